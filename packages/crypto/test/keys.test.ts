import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { before, test } from 'node:test';
import { CryptoError } from '../src/errors.js';
import {
  exportIdentityKeysJwk,
  exportKeyJwk,
  exportPublicKey,
  exportPublicKeys,
  generateIdentityKeys,
  generateWrappingKeyPair,
  importIdentityKeysJwk,
  importPublicKeys,
  importSigningKeyJwk,
  importSigningPublicKey,
  importWrappingKeyJwk,
  importWrappingPublicKey,
  type IdentityKeys,
} from '../src/keys.js';
import { fromHex, toBase64, toBase64Url } from '../src/bytes.js';

const isCode = (code: string) => (e: unknown) => e instanceof CryptoError && e.code === code;

let id: IdentityKeys;
before(async () => {
  id = await generateIdentityKeys();
});

test('generated identity has a 3072-bit RSA-OAEP-SHA-256 wrapping key and an Ed25519 signing key', () => {
  const rsa = id.wrapping.publicKey.algorithm as RsaHashedKeyAlgorithm;
  assert.equal(rsa.name, 'RSA-OAEP');
  assert.equal(rsa.modulusLength, 3072);
  assert.equal(rsa.hash.name, 'SHA-256');
  assert.equal(id.signing.publicKey.algorithm.name, 'Ed25519');
  assert.deepEqual([...id.wrapping.privateKey.usages].sort(), ['unwrapKey']);
});

test('SPKI export and import round-trip, and the bytes match node:crypto', async () => {
  const pub = await exportPublicKeys(id);
  const imported = await importPublicKeys(pub);
  assert.equal(await exportPublicKey(imported.wrappingKey), pub.wrappingKey);
  assert.equal(await exportPublicKey(imported.signingKey), pub.signingKey);
  // An Ed25519 SPKI is a 12-byte header plus the 32-byte key.
  assert.equal(Buffer.from(pub.signingKey, 'base64').length, 44);
});

test('private keys refuse SPKI export', async () => {
  await assert.rejects(exportPublicKey(id.signing.privateKey), isCode('bad_format'));
});

test('JWK export/import of a whole identity round-trips and the keys still work together', async () => {
  const jwk = await exportIdentityKeysJwk(id);
  const back = await importIdentityKeysJwk(jwk);
  const data = new Uint8Array([1, 2, 3]);
  const sig = await crypto.subtle.sign('Ed25519', back.signing.privateKey, data);
  assert.ok(await crypto.subtle.verify('Ed25519', id.signing.publicKey, sig, data));
  assert.equal(
    await exportPublicKey(back.wrapping.publicKey),
    await exportPublicKey(id.wrapping.publicKey),
  );
});

test('non-extractable keys cannot be exported as JWK', async () => {
  const jwk = await exportKeyJwk(id.signing.privateKey);
  const locked = await importSigningKeyJwk(jwk, false);
  await assert.rejects(exportKeyJwk(locked), isCode('bad_format'));
});

test('RSA keys under 3072 bits are refused: generation, SPKI import and JWK import', async () => {
  await assert.rejects(generateWrappingKeyPair({ modulusLength: 2048 }), isCode('weak_key'));
  const small = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const spki = small.publicKey.export({ type: 'spki', format: 'der' });
  await assert.rejects(importWrappingPublicKey(spki.toString('base64')), isCode('weak_key'));
  const jwk = small.privateKey.export({ format: 'jwk' }) as JsonWebKey;
  await assert.rejects(importWrappingKeyJwk(jwk), isCode('weak_key'));
  await assert.rejects(importWrappingKeyJwk({ ...jwk, d: undefined }), isCode('weak_key'));
});

test('a 4096-bit RSA key from elsewhere is accepted', async () => {
  const big = generateKeyPairSync('rsa', { modulusLength: 4096 });
  const spki = big.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  const key = await importWrappingPublicKey(spki);
  assert.equal((key.algorithm as RsaHashedKeyAlgorithm).modulusLength, 4096);
});

test('garbage and wrong-algorithm keys are bad_format, not crashes', async () => {
  await assert.rejects(importWrappingPublicKey('AAAA'), isCode('bad_format'));
  await assert.rejects(importWrappingPublicKey('not base64!'), isCode('bad_format'));
  const ed = await exportPublicKey(id.signing.publicKey);
  await assert.rejects(importWrappingPublicKey(ed), isCode('bad_format'));
  const rsa = await exportPublicKey(id.wrapping.publicKey);
  await assert.rejects(importSigningPublicKey(rsa), isCode('bad_format'));
});

test('Ed25519 known answer: RFC 8032 §7.1 test 1 signature of the empty message', async () => {
  const secret = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
  const pub = fromHex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
  const priv = await importSigningKeyJwk({
    kty: 'OKP',
    crv: 'Ed25519',
    d: toBase64Url(secret),
    x: toBase64Url(pub),
  });
  const sig = new Uint8Array(await crypto.subtle.sign('Ed25519', priv, new Uint8Array(0)));
  assert.equal(
    Buffer.from(sig).toString('hex'),
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  );
  const spki = toBase64(new Uint8Array([...fromHex('302a300506032b6570032100'), ...pub]));
  const verifyKey = await importSigningPublicKey(spki);
  assert.ok(await crypto.subtle.verify('Ed25519', verifyKey, sig, new Uint8Array(0)));
});
