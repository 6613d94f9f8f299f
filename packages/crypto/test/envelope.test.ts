import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { fromBase64, fromUtf8, toBase64, utf8 } from '../src/bytes.js';
import { openKeyEnvelope, parseKeyEnvelope, sealKeyEnvelope } from '../src/envelope.js';
import { CryptoError } from '../src/errors.js';
import { generateIdentityKeys, type IdentityKeys } from '../src/keys.js';
import {
  decryptMessageText,
  encryptMessage,
  generateConversationKey,
  type ConversationKey,
} from '../src/message.js';

const isCode = (code: string) => (e: unknown) => e instanceof CryptoError && e.code === code;

let alice: IdentityKeys;
let bob: IdentityKeys;
let mallory: IdentityKeys;
let ck: ConversationKey;
let body: string;

before(async () => {
  [alice, bob, mallory] = await Promise.all([
    generateIdentityKeys(),
    generateIdentityKeys(),
    generateIdentityKeys(),
  ]);
  ck = await generateConversationKey();
  body = await sealKeyEnvelope({
    conversationKey: ck,
    from: 'alice',
    to: 'bob',
    recipientWrappingKey: bob.wrapping.publicKey,
    senderSigningKey: alice.signing.privateKey,
    now: 1_700_000_000_000,
  });
});

const openAsBob = (b: string, over: Partial<Parameters<typeof openKeyEnvelope>[1]> = {}) =>
  openKeyEnvelope(b, {
    from: 'alice',
    to: 'bob',
    senderSigningKey: alice.signing.publicKey,
    recipientUnwrappingKey: bob.wrapping.privateKey,
    ...over,
  });

const reencode = (change: Record<string, unknown>): string =>
  toBase64(utf8(JSON.stringify({ ...JSON.parse(fromUtf8(fromBase64(body))), ...change })));

test('bob opens alice’s envelope and both sides then share the conversation key', async () => {
  const opened = await openAsBob(body);
  assert.equal(opened.conversationKey.id, ck.id);
  assert.equal(opened.ts, 1_700_000_000_000);
  const msg = await encryptMessage(ck, 'hi bob', { from: 'alice', to: 'bob', id: 'm1' });
  assert.equal(
    await decryptMessageText(opened.conversationKey, msg, { from: 'alice', to: 'bob', id: 'm1' }),
    'hi bob',
  );
});

test('the envelope carries the documented fields and no raw key', () => {
  const e = parseKeyEnvelope(body);
  assert.deepEqual(Object.keys(JSON.parse(fromUtf8(fromBase64(body)))), [
    'v',
    'from',
    'to',
    'kid',
    'ts',
    'wrapped',
    'sig',
  ]);
  assert.equal(fromBase64(e.wrapped).length, 384); // one 3072-bit RSA block
  assert.equal(fromBase64(e.sig).length, 64);
});

test('a signature over a modified envelope does not verify', async () => {
  const e = parseKeyEnvelope(body);
  const flipped = fromBase64(e.wrapped);
  flipped[10] = (flipped[10] as number) ^ 1;
  for (const change of [
    { ts: e.ts + 1 },
    { kid: (await generateConversationKey()).id },
    { wrapped: toBase64(flipped) },
  ]) {
    await assert.rejects(
      openAsBob(reencode(change)),
      isCode('bad_signature'),
      JSON.stringify(change),
    );
  }
  const sig = fromBase64(e.sig);
  sig[0] = (sig[0] as number) ^ 1;
  await assert.rejects(openAsBob(reencode({ sig: toBase64(sig) })), isCode('bad_signature'));
});

test('a swapped sender fails: claimed by another user, or signed by the wrong key', async () => {
  // The server says the envelope came from mallory: refused before any crypto.
  await assert.rejects(openAsBob(body, { from: 'mallory' }), isCode('context_mismatch'));
  // The envelope is rewritten to claim mallory as sender and delivered as mallory's: signature breaks.
  await assert.rejects(
    openAsBob(reencode({ from: 'mallory' }), {
      from: 'mallory',
      senderSigningKey: mallory.signing.publicKey,
    }),
    isCode('bad_signature'),
  );
  // A key the server substituted, signed by mallory, does not verify under alice's pinned key.
  const forged = await sealKeyEnvelope({
    conversationKey: await generateConversationKey(),
    from: 'alice',
    to: 'bob',
    recipientWrappingKey: bob.wrapping.publicKey,
    senderSigningKey: mallory.signing.privateKey,
  });
  await assert.rejects(openAsBob(forged), isCode('bad_signature'));
});

test('a wrong recipient cannot open it: re-addressed, or with another private key', async () => {
  await assert.rejects(openAsBob(body, { to: 'carol' }), isCode('context_mismatch'));
  await assert.rejects(
    openAsBob(body, { recipientUnwrappingKey: mallory.wrapping.privateKey }),
    isCode('unwrap_failed'),
  );
});

test('the OAEP label binds the context: a validly signed envelope wrapped under another label fails to unwrap', async () => {
  // Alice (honest signer) wraps for bob; we then re-sign a re-addressed copy with her key, as a
  // confused client might. The signature now verifies, but the label still names the old context.
  const e = parseKeyEnvelope(body);
  const { encodeFields } = await import('../src/bytes.js');
  const moved = { ...e, kid: (await generateConversationKey()).id };
  const sig = await crypto.subtle.sign(
    'Ed25519',
    alice.signing.privateKey,
    encodeFields([
      'gossip/key',
      '1',
      moved.from,
      moved.to,
      moved.kid,
      String(moved.ts),
      fromBase64(moved.wrapped),
    ]),
  );
  const resigned = toBase64(utf8(JSON.stringify({ ...moved, sig: toBase64(new Uint8Array(sig)) })));
  await assert.rejects(openAsBob(resigned), isCode('unwrap_failed'));
});

test('malformed envelopes are bad_format', async () => {
  for (const change of [
    { v: 2 },
    { ts: 'yesterday' },
    { ts: -1 },
    { sig: toBase64(new Uint8Array(10)) },
    { to: 3 },
  ]) {
    assert.throws(
      () => parseKeyEnvelope(reencode(change)),
      isCode('bad_format'),
      JSON.stringify(change),
    );
  }
  assert.throws(() => parseKeyEnvelope('e30='), isCode('bad_format'));
});
