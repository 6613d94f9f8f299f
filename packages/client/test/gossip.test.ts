import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import {
  CryptoError,
  exportPublicKeys,
  fromBase64,
  fromUtf8,
  generateIdentityKeys,
  sealKeyEnvelope,
  generateConversationKey,
  importWrappingPublicKey,
} from '@gossip/crypto';
import type { DeliverFrame, SendFrame } from '@gossip/protocol';
import { ApiClient } from '../src/api.js';
import { FingerprintMismatchError, KeyChangedError, MissingKeyError } from '../src/errors.js';
import { GossipClient } from '../src/gossip.js';
import { MemoryKeyStore } from '../src/keystore.js';
import { FakeApi } from './fake-api.js';

function client(fake: FakeApi): GossipClient {
  return new GossipClient({
    api: new ApiClient({ baseUrl: 'https://api.test', fetch: fake.fetch }),
    keyStore: new MemoryKeyStore(),
  });
}

/** What the gateway does with a send frame: the server sets `from`. */
function deliverOf(from: string, f: SendFrame, sentAt = Date.now()): DeliverFrame {
  return { type: 'deliver', id: f.id, from, sentAt, kind: f.kind, body: f.body };
}

let fake: FakeApi;
let alice: GossipClient;
let bob: GossipClient;

before(async () => {
  fake = new FakeApi();
  alice = client(fake);
  bob = client(fake);
  await alice.register({ username: 'alice', password: 'alice password' });
  await bob.register({ username: 'bob', password: 'bob password 1' });
});

test('register publishes only the public keys and keeps the private ones locally', async () => {
  const published = fake.users.get('alice')?.keys;
  assert.deepEqual(published, await alice.ownPublicKeys());
  assert.deepEqual(Object.keys(published ?? {}).sort(), ['signingKey', 'wrappingKey']);
  const id = await alice.keyStore.getIdentity();
  assert.equal(id?.wrapping.privateKey.type, 'private');
});

test('both sides compute the same safety number, and a contact is pinned on first fetch', async () => {
  const fromAlice = await alice.safetyNumber('bob');
  const fromBob = await bob.safetyNumber('alice');
  assert.equal(fromAlice, fromBob);
  assert.match(fromAlice, /^(\d{5} ){11}\d{5}$/);
  const pinned = await alice.keyStore.getPinned('bob');
  assert.equal(pinned?.keyVersion, 1);
  assert.match(pinned?.fingerprint ?? '', /^\d{30}$/);
});

test('a conversation started by alice lets bob decrypt, and the server sees no plaintext', async () => {
  const frames = await alice.prepareSend('bob', 'meet at noon');
  assert.deepEqual(
    frames.map((f) => f.kind),
    ['key', 'message'],
  );
  for (const f of frames) assert.doesNotMatch(fromUtf8(fromBase64(f.body)), /noon/);
  const key = await bob.openDeliver(deliverOf('alice', frames[0] as SendFrame));
  assert.equal(key.kind, 'key');
  const msg = await bob.openDeliver(deliverOf('alice', frames[1] as SendFrame));
  assert.equal(msg.kind === 'message' && msg.text, 'meet at noon');
  // Until the server accepted the key frame, every message is preceded by it again
  // (same key id), so a crash before the key frame was sent cannot strand bob.
  const unconfirmed = await alice.prepareSend('bob', 'are you there?');
  assert.deepEqual(
    unconfirmed.map((f) => f.kind),
    ['key', 'message'],
  );
  const kidOf = (f: SendFrame | undefined) =>
    (JSON.parse(fromUtf8(fromBase64(f?.body ?? ''))) as { kid: string }).kid;
  assert.equal(kidOf(unconfirmed[0]), kidOf(frames[0]));
  assert.notEqual(unconfirmed[0]?.id, frames[0]?.id);
  const repeat = await bob.openDeliver(deliverOf('alice', unconfirmed[0] as SendFrame));
  assert.equal(repeat.kind === 'key' && repeat.isNew, false);
  await alice.keyMessageAccepted(frames[0] as SendFrame);
  // Once accepted, the conversation is reused without a key frame.
  const next = await alice.prepareSend('bob', 'bring coffee');
  assert.deepEqual(
    next.map((f) => f.kind),
    ['message'],
  );
  const second = await bob.openDeliver(deliverOf('alice', next[0] as SendFrame));
  assert.equal(second.kind === 'message' && second.text, 'bring coffee');
  // A redelivered key message is harmless.
  const again = await bob.openDeliver(deliverOf('alice', frames[0] as SendFrame));
  assert.equal(again.kind === 'key' && again.isNew, false);
});

test('bob can reply with the key alice sent; alice decrypts', async () => {
  const frames = await bob.prepareSend('alice', 'ok!');
  assert.deepEqual(
    frames.map((f) => f.kind),
    ['message'],
  );
  const msg = await alice.openDeliver(deliverOf('bob', frames[0] as SendFrame));
  assert.equal(msg.kind === 'message' && msg.text, 'ok!');
});

test('a message re-attributed by the server to another sender does not decrypt', async () => {
  const carol = client(fake);
  await carol.register({ username: 'carol', password: 'carol password' });
  const [msg] = await alice.prepareSend('bob', 'only from alice');
  // Claimed to be from carol: bob has no key from carol under that id.
  await assert.rejects(bob.openDeliver(deliverOf('carol', msg as SendFrame)), MissingKeyError);
  // Replayed under another message id: the AAD no longer matches.
  const replay = { ...deliverOf('alice', msg as SendFrame), id: crypto.randomUUID() };
  await assert.rejects(
    bob.openDeliver(replay),
    (e: unknown) => e instanceof CryptoError && e.code === 'decrypt_failed',
  );
});

test('a message whose key has not arrived yet throws MissingKeyError (the messenger holds it)', async () => {
  const dave = client(fake);
  await dave.register({ username: 'dave', password: 'dave password' });
  const [keyFrame, msgFrame] = await dave.prepareSend('bob', 'early');
  await assert.rejects(bob.openDeliver(deliverOf('dave', msgFrame as SendFrame)), MissingKeyError);
  await bob.openDeliver(deliverOf('dave', keyFrame as SendFrame));
  const msg = await bob.openDeliver(deliverOf('dave', msgFrame as SendFrame));
  assert.equal(msg.kind === 'message' && msg.text, 'early');
});

test('a key envelope forged by the server (signed with another key) is refused', async () => {
  const mallory = await generateIdentityKeys();
  const forged = await sealKeyEnvelope({
    conversationKey: await generateConversationKey(),
    from: 'alice',
    to: 'bob',
    recipientWrappingKey: await importWrappingPublicKey((await bob.ownPublicKeys()).wrappingKey),
    senderSigningKey: mallory.signing.privateKey,
  });
  await assert.rejects(
    bob.receiveKey('alice', forged),
    (e: unknown) => e instanceof CryptoError && e.code === 'bad_signature',
  );
});

test('a key swap in the directory is detected with old and new fingerprints, until re-trusted', async () => {
  const erin = client(fake);
  await erin.register({ username: 'erin', password: 'erin password' });
  const pinned = await alice.contactKeys('erin');
  const before = await alice.safetyNumber('erin');
  // The server (or an attacker on it) swaps erin's keys for its own.
  const evil = await exportPublicKeys(await generateIdentityKeys());
  fake.setKeys('erin', evil);
  const err = await alice.contactKeys('erin').then(
    () => assert.fail('key change not detected'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof KeyChangedError);
  assert.equal(err.username, 'erin');
  assert.equal(err.previousFingerprint, pinned.fingerprint);
  assert.notEqual(err.currentFingerprint, pinned.fingerprint);
  assert.notEqual(err.currentSafetyNumber.replace(/\s/g, ''), before.replace(/\s/g, ''));
  // The pin is kept: the old keys are still the ones used.
  assert.equal((await alice.keyStore.getPinned('erin'))?.fingerprint, pinned.fingerprint);
  // Starting a conversation still wraps for the pinned key, not the swapped one.
  const { body } = await alice.startConversation('erin');
  const opened = await erin.receiveKey('alice', body);
  assert.equal(opened.isNew, true);
  // Trusting needs the fingerprint the user compared: the old one is refused.
  await assert.rejects(
    alice.trustContactKeys('erin', pinned.fingerprint),
    FingerprintMismatchError,
  );
  // After the user re-trusts, the new keys are pinned and old conversations retired.
  const trusted = await alice.trustContactKeys('erin', err.currentFingerprint);
  assert.equal(trusted.fingerprint, err.currentFingerprint);
  assert.equal(trusted.verified, false);
  assert.equal(await alice.hasConversation('erin'), false);
});

test('a contact who lost their keys (an unsigned change) surfaces as KeyChangedError on their next key message', async () => {
  const fay = client(fake);
  await fay.register({ username: 'fay', password: 'fay password' });
  await bob.contactKeys('fay');
  // A new device without fay's keys: its change cannot be signed by them.
  const fayElsewhere = client(fake);
  await fayElsewhere.login('fay', 'fay password');
  assert.equal((await fayElsewhere.changeKeys('fay password')).signed, false);
  const { body } = await fayElsewhere.startConversation('bob');
  await assert.rejects(bob.receiveKey('fay', body), KeyChangedError);
  const event = await bob.openContactEvent({
    type: 'contact',
    id: crypto.randomUUID(),
    event: 'key-changed',
    from: 'fay',
    at: Date.now(),
    keyVersion: 2,
  });
  assert.ok(
    event.event === 'key-changed' && 'error' in event && event.error instanceof KeyChangedError,
  );
  await bob.trustContactKeys(
    'fay',
    event.event === 'key-changed' && 'error' in event
      ? (event.error?.currentFingerprint ?? '')
      : '',
  );
  assert.equal((await bob.receiveKey('fay', body)).isNew, true);
});

test('accepting a contact sends a key envelope the requester can open from the contact event', async () => {
  const gus = client(fake);
  await gus.register({ username: 'gus', password: 'gus password' });
  const { keyId } = await gus.acceptContact('alice');
  const sent = fake.accepted.at(-1);
  assert.equal(sent?.to, 'alice');
  const event = await alice.openContactEvent({
    type: 'contact',
    id: crypto.randomUUID(),
    event: 'accepted',
    from: 'gus',
    at: Date.now(),
    body: sent?.keyEnvelope as string,
  });
  assert.equal('keyId' in event && event.keyId, keyId);
  const frames = await alice.prepareSend('gus', 'thanks for accepting');
  assert.deepEqual(
    frames.map((f) => f.kind),
    ['message'],
  );
  const msg = await gus.openDeliver(deliverOf('alice', frames[0] as SendFrame));
  assert.equal(msg.kind === 'message' && msg.text, 'thanks for accepting');
});

test('login reports whether this key store holds the account’s published keys', async () => {
  const elsewhere = client(fake);
  const r = await elsewhere.login('alice', 'alice password');
  assert.equal(r.hasKeys, false);
  await assert.rejects(elsewhere.identity(), MissingKeyError);
  const again = new GossipClient({
    api: new ApiClient({ baseUrl: 'https://api.test', fetch: fake.fetch }),
    keyStore: alice.keyStore,
  });
  assert.equal((await again.login('alice', 'alice password')).hasKeys, true);
});

test('a directory answer about another user is refused, not pinned', async () => {
  const hal = client(fake);
  await hal.register({ username: 'hal', password: 'hal password' });
  fake.answerKeysAs.set('hal', 'alice');
  try {
    await assert.rejects(bob.contactKeys('hal'), /asked for hal's keys, got alice's/);
    assert.equal(await bob.keyStore.getPinned('hal'), undefined);
  } finally {
    fake.answerKeysAs.clear();
  }
});

test('the sending key is chosen by local time: a post-dated key from a peer does not stay current', async () => {
  let clock = 1_000_000;
  const tick = (): number => ++clock;
  const ivy = new GossipClient({
    api: new ApiClient({ baseUrl: 'https://api.test', fetch: fake.fetch }),
    keyStore: new MemoryKeyStore(),
    now: tick,
  });
  const jay = new GossipClient({
    api: new ApiClient({ baseUrl: 'https://api.test', fetch: fake.fetch }),
    keyStore: new MemoryKeyStore(),
    now: tick,
  });
  await ivy.register({ username: 'ivy', password: 'ivy password' });
  await jay.register({ username: 'jay', password: 'jay password' });
  await jay.contactKeys('ivy');
  const seal = async (ts: number) => {
    const ck = await generateConversationKey();
    const body = await sealKeyEnvelope({
      conversationKey: ck,
      from: 'ivy',
      to: 'jay',
      recipientWrappingKey: await importWrappingPublicKey((await jay.ownPublicKeys()).wrappingKey),
      senderSigningKey: (await ivy.identity()).signing.privateKey,
      now: ts,
    });
    return { id: ck.id, body };
  };
  // Ivy's clock (or a replaying server) dates a key a century ahead ...
  const postDated = await seal(Date.now() + 100 * 365 * 86_400_000);
  await jay.receiveKey('ivy', postDated.body);
  // ... then sends an honest one later: jay must move to it.
  const later = await seal(Date.now());
  await jay.receiveKey('ivy', later.body);
  assert.equal((await jay.keyStore.currentConversationKey('ivy'))?.key.id, later.id);
  // And a key jay makes after that is newer still, whatever ivy's envelopes said.
  const mine = await jay.startConversation('ivy');
  assert.equal((await jay.keyStore.currentConversationKey('ivy'))?.key.id, mine.keyId);
});

test('a message too large for the protocol is refused before it is sent', async () => {
  await assert.rejects(
    alice.prepareSend('bob', new Uint8Array(40_000)),
    (e: unknown) => e instanceof RangeError && /limit is 65536/.test(e.message),
  );
  const fits = await alice.prepareSend('bob', new Uint8Array(36_000));
  assert.equal(fits.length, 1);
});

test('the main entry imports no node: module (only @gossip/client/node does)', async () => {
  const { readdirSync, readFileSync } = await import('node:fs');
  const dir = new URL('../src/', import.meta.url);
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.ts')) continue; // node/ and cli/ are folders: Node-only by design
    const text = readFileSync(new URL(file, dir), 'utf8');
    assert.doesNotMatch(text, /from 'node:|\bBuffer\./, file);
  }
});
