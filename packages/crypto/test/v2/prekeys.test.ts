import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeFields, fromBase64, toBase64 } from '../../src/bytes.js';
import { CryptoError } from '../../src/errors.js';
import { generateSigningKeyPair } from '../../src/keys.js';
import {
  exportX25519PrivateRaw,
  exportX25519PublicKey,
  generateX25519KeyPair,
  importX25519PrivateRaw,
  importX25519PublicKey,
  signPrekey,
  verifyPrekey,
  x25519,
  type PrekeyStatement,
} from '../../src/v2/prekeys.js';

const isCode = (code: string) => (e: unknown) => e instanceof CryptoError && e.code === code;

test('X25519 public keys export as 44-char base64 and import back; agreement matches both ways', async () => {
  const a = await generateX25519KeyPair();
  const b = await generateX25519KeyPair();
  const aPub = await exportX25519PublicKey(a.publicKey);
  assert.equal(aPub.length, 44);
  assert.equal(fromBase64(aPub).length, 32);
  const imported = await importX25519PublicKey(aPub);
  assert.equal(await exportX25519PublicKey(imported), aPub);
  const ab = await x25519(a.privateKey, b.publicKey);
  const ba = await x25519(b.privateKey, imported);
  assert.notEqual(toBase64(ab), toBase64(new Uint8Array(32)));
  assert.equal(toBase64(ab), toBase64(ba));
});

test('importX25519PublicKey is strict: wrong length, bad base64, non-strings are bad_format', async () => {
  const good = await exportX25519PublicKey((await generateX25519KeyPair()).publicKey);
  for (const bad of [
    '',
    good.slice(0, 43),
    good + 'A',
    good.replace(/=$/, 'A'), // 44 characters of valid base64, but 33 bytes
    good.replace(/\+|\//g, '-'),
    ' ' + good.slice(1),
    toBase64(new Uint8Array(31)).padEnd(44, 'A'),
    toBase64(new Uint8Array(48)),
    42 as unknown as string,
    null as unknown as string,
  ]) {
    if (bad === good) continue;
    await assert.rejects(importX25519PublicKey(bad), isCode('bad_format'), String(bad));
  }
});

test('agreement with a low-order public key (all zeros) is bad_key, not a zero secret', async () => {
  const a = await generateX25519KeyPair();
  const zero = await importX25519PublicKey(toBase64(new Uint8Array(32)));
  await assert.rejects(x25519(a.privateKey, zero), isCode('bad_key'));
});

test('X25519 private keys round-trip through their 32 raw bytes, with the same public key', async () => {
  const pair = await generateX25519KeyPair();
  const d = await exportX25519PrivateRaw(pair.privateKey);
  assert.equal(d.length, 32);
  const again = await importX25519PrivateRaw(d);
  assert.equal(
    await exportX25519PublicKey(again.publicKey),
    await exportX25519PublicKey(pair.publicKey),
  );
  await assert.rejects(importX25519PrivateRaw(new Uint8Array(31)), isCode('bad_format'));
});

test('signPrekey / verifyPrekey: round trip, wrong key, altered kind, id or key, malformed signature', async () => {
  const signer = await generateSigningKeyPair();
  const other = await generateSigningKeyPair();
  const ik = await exportX25519PublicKey((await generateX25519KeyPair()).publicKey);
  const spk = await exportX25519PublicKey((await generateX25519KeyPair()).publicKey);
  const identity: PrekeyStatement = { kind: 'identity', id: 0, publicKey: ik };
  const signed: PrekeyStatement = { kind: 'signed', id: 7, publicKey: spk };
  const sigI = await signPrekey(signer.privateKey, identity);
  const sigS = await signPrekey(signer.privateKey, signed);
  assert.equal(fromBase64(sigS).length, 64);
  assert.equal(await verifyPrekey(signer.publicKey, identity, sigI), true);
  assert.equal(await verifyPrekey(signer.publicKey, signed, sigS), true);

  assert.equal(await verifyPrekey(other.publicKey, signed, sigS), false, 'wrong signing key');
  assert.equal(await verifyPrekey(signer.publicKey, { ...signed, id: 8 }, sigS), false, 'id');
  assert.equal(await verifyPrekey(signer.publicKey, { ...signed, publicKey: ik }, sigS), false);
  // The identity signature does not pass for the same key as a signed prekey, and vice versa.
  assert.equal(
    await verifyPrekey(signer.publicKey, { kind: 'signed', id: 1, publicKey: ik }, sigI),
    false,
  );
  assert.equal(await verifyPrekey(signer.publicKey, { ...identity, publicKey: spk }, sigS), false);
  assert.equal(await verifyPrekey(signer.publicKey, signed, sigI), false, 'swapped signature');

  const flipped = fromBase64(sigS);
  flipped[10] = (flipped[10] as number) ^ 1;
  assert.equal(await verifyPrekey(signer.publicKey, signed, toBase64(flipped)), false);
  for (const bad of [
    '',
    'not base64!',
    sigS.slice(0, 86),
    sigS + '==',
    toBase64(new Uint8Array(65)),
  ]) {
    assert.equal(await verifyPrekey(signer.publicKey, signed, bad), false, bad);
  }
  for (const s of [
    { ...signed, kind: 'other' as 'signed' },
    { ...signed, id: 0 },
    { ...signed, id: 2 ** 31 },
    { ...signed, id: 1.5 },
    { ...identity, id: 1 },
    { ...signed, publicKey: 'AAAA' },
    { ...signed, publicKey: spk.slice(0, 43) + '!' },
    null as unknown as PrekeyStatement,
  ]) {
    assert.equal(await verifyPrekey(signer.publicKey, s, sigS), false, JSON.stringify(s));
  }
  assert.equal(await verifyPrekey(null as unknown as CryptoKey, signed, sigS), false);
  assert.equal(await verifyPrekey(signer.publicKey, signed, 5 as unknown as string), false);

  await assert.rejects(signPrekey(signer.privateKey, { ...signed, id: 0 }), isCode('bad_format'));
  await assert.rejects(signPrekey(signer.privateKey, { ...identity, id: 3 }), isCode('bad_format'));
  await assert.rejects(
    signPrekey(signer.privateKey, { ...signed, publicKey: 'x' }),
    isCode('bad_format'),
  );
});

test('the signature is over the contract bytes: encodeFields(gossip/prekey, 2, kind, id, key)', async () => {
  const signer = await generateSigningKeyPair();
  const spk = await exportX25519PublicKey((await generateX25519KeyPair()).publicKey);
  const s: PrekeyStatement = { kind: 'signed', id: 123, publicKey: spk };
  const sig = await signPrekey(signer.privateKey, s);
  const ok = await crypto.subtle.verify(
    'Ed25519',
    signer.publicKey,
    fromBase64(sig),
    encodeFields(['gossip/prekey', '2', 'signed', '123', spk]),
  );
  assert.equal(ok, true);
});
