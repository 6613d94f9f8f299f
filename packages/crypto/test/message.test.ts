import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { fromBase64, fromHex, fromUtf8, toBase64, toHex, utf8 } from '../src/bytes.js';
import { CryptoError } from '../src/errors.js';
import {
  aesGcmOpen,
  aesGcmSeal,
  decryptMessage,
  decryptMessageText,
  encryptMessage,
  exportConversationKey,
  generateConversationKey,
  importConversationKey,
  messageBodyLength,
  parseMessageBody,
  type ConversationKey,
} from '../src/message.js';

const isCode = (code: string) => (e: unknown) => e instanceof CryptoError && e.code === code;
const ctx = { from: 'alice', to: 'bob', id: '0193a2b4-0000-7000-8000-000000000001' };

let ck: ConversationKey;
before(async () => {
  ck = await generateConversationKey();
});

test('AES-256-GCM known answer: GCM spec (McGrew-Viega) test case 16, 256-bit key with AAD', async () => {
  const key = await crypto.subtle.importKey(
    'raw',
    fromHex('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308'),
    'AES-GCM',
    false,
    ['encrypt', 'decrypt'],
  );
  const iv = fromHex('cafebabefacedbaddecaf888');
  const pt = fromHex(
    'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39',
  );
  const aad = fromHex('feedfacedeadbeeffeedfacedeadbeefabaddad2');
  const expected =
    '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662' +
    '76fc6ece0f4e1768cddf8853bb2d551b';
  const ct = await aesGcmSeal(key, iv, pt, aad);
  assert.equal(toHex(ct), expected);
  assert.deepEqual(await aesGcmOpen(key, iv, ct, aad), pt);
});

test('a message round-trips and its body is the documented {v, kid, iv, ct} base64 JSON', async () => {
  const body = await encryptMessage(ck, 'hello, bob ☕', ctx);
  const json = JSON.parse(fromUtf8(fromBase64(body))) as Record<string, unknown>;
  assert.deepEqual(Object.keys(json), ['v', 'kid', 'iv', 'ct']);
  assert.equal(json.v, 1);
  assert.equal(json.kid, ck.id);
  assert.equal(fromBase64(json.iv as string).length, 12);
  assert.equal(await decryptMessageText(ck, body, ctx), 'hello, bob ☕');
  assert.equal(body.length, messageBodyLength(utf8('hello, bob ☕').length));
  assert.doesNotMatch(fromUtf8(fromBase64(body)), /hello/);
});

test('every message gets a fresh IV, so equal plaintexts give different bodies', async () => {
  const ivs = new Set<string>();
  for (let i = 0; i < 50; i++) ivs.add(parseMessageBody(await encryptMessage(ck, 'same', ctx)).iv);
  assert.equal(ivs.size, 50);
});

test('a flipped ciphertext bit fails to decrypt', async () => {
  const body = parseMessageBody(await encryptMessage(ck, 'pay 10', ctx));
  const ct = fromBase64(body.ct);
  for (const at of [0, ct.length - 1]) {
    const bad = new Uint8Array(ct);
    bad[at] = (bad[at] as number) ^ 1;
    const tampered = toBase64(utf8(JSON.stringify({ ...body, ct: toBase64(bad) })));
    await assert.rejects(decryptMessage(ck, tampered, ctx), isCode('decrypt_failed'));
  }
  const iv = fromBase64(body.iv);
  iv[0] = (iv[0] as number) ^ 1;
  const badIv = toBase64(utf8(JSON.stringify({ ...body, iv: toBase64(iv) })));
  await assert.rejects(decryptMessage(ck, badIv, ctx), isCode('decrypt_failed'));
});

test('the AAD binds sender, recipient and id: any change fails', async () => {
  const body = await encryptMessage(ck, 'secret', ctx);
  await assert.rejects(
    decryptMessage(ck, body, { ...ctx, from: 'mallory' }),
    isCode('decrypt_failed'),
  );
  await assert.rejects(decryptMessage(ck, body, { ...ctx, to: 'carol' }), isCode('decrypt_failed'));
  await assert.rejects(decryptMessage(ck, body, { ...ctx, id: 'other' }), isCode('decrypt_failed'));
  // Swapped sender and recipient (a reflected message) fails too.
  await assert.rejects(
    decryptMessage(ck, body, { ...ctx, from: 'bob', to: 'alice' }),
    isCode('decrypt_failed'),
  );
});

test('a different key fails, even when it claims the same key id', async () => {
  const body = await encryptMessage(ck, 'secret', ctx);
  const other = await generateConversationKey();
  await assert.rejects(decryptMessage(other, body, ctx), isCode('context_mismatch'));
  const impostor = { id: ck.id, key: other.key };
  await assert.rejects(decryptMessage(impostor, body, ctx), isCode('decrypt_failed'));
});

test('conversation keys export and re-import to the same key', async () => {
  const raw = await exportConversationKey(ck);
  assert.equal(raw.length, 32);
  const back = await importConversationKey(ck.id, raw);
  const body = await encryptMessage(ck, 'x', ctx);
  assert.equal(await decryptMessageText(back, body, ctx), 'x');
  await assert.rejects(importConversationKey(ck.id, raw.subarray(0, 16)), isCode('bad_format'));
  await assert.rejects(importConversationKey('short', raw), isCode('bad_format'));
});

test('malformed bodies are bad_format', async () => {
  const enc = (v: unknown): string => toBase64(utf8(JSON.stringify(v)));
  const good = parseMessageBody(await encryptMessage(ck, 'x', ctx));
  for (const bad of [
    'not base64!',
    toBase64(utf8('{not json')),
    enc([1, 2]),
    enc({ ...good, v: 2 }),
    enc({ ...good, kid: 5 }),
    enc({ ...good, iv: toBase64(new Uint8Array(8)) }),
    enc({ ...good, ct: toBase64(new Uint8Array(4)) }),
  ]) {
    assert.throws(() => parseMessageBody(bad), isCode('bad_format'), bad);
  }
});
