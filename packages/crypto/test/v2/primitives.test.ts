/** WebCrypto used right: the RFC known answers for the primitives v2 is built on. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromHex, toHex, utf8 } from '../../src/bytes.js';
import { hkdf, hmacSha256 } from '../../src/v2/kdf.js';
import {
  exportX25519PublicRaw,
  importX25519PrivateRaw,
  importX25519PublicRaw,
  x25519,
} from '../../src/v2/prekeys.js';

test('X25519: RFC 7748 section 6.1 (both public keys and the shared secret)', async () => {
  const a = await importX25519PrivateRaw(
    fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'),
  );
  const b = await importX25519PrivateRaw(
    fromHex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'),
  );
  assert.equal(
    toHex(await exportX25519PublicRaw(a.publicKey)),
    '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
  );
  assert.equal(
    toHex(await exportX25519PublicRaw(b.publicKey)),
    'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
  );
  const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
  assert.equal(toHex(await x25519(a.privateKey, b.publicKey)), shared);
  assert.equal(toHex(await x25519(b.privateKey, a.publicKey)), shared);
});

test('X25519: RFC 7748 section 5.2, first scalar multiplication vector', async () => {
  const k = await importX25519PrivateRaw(
    fromHex('a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4'),
  );
  const u = await importX25519PublicRaw(
    fromHex('e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c'),
  );
  assert.equal(
    toHex(await x25519(k.privateKey, u)),
    'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552',
  );
});

test('HKDF-SHA-256: RFC 5869 test cases 1 and 3', async () => {
  assert.equal(
    toHex(
      await hkdf(
        fromHex('000102030405060708090a0b0c'),
        fromHex('0b'.repeat(22)),
        fromHex('f0f1f2f3f4f5f6f7f8f9'),
        42,
      ),
    ),
    '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
  );
  // Test case 3: empty salt and info.
  assert.equal(
    toHex(await hkdf(new Uint8Array(0), fromHex('0b'.repeat(22)), new Uint8Array(0), 42)),
    '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8',
  );
});

test('HMAC-SHA-256: RFC 4231 test cases 1 and 2', async () => {
  assert.equal(
    toHex(await hmacSha256(fromHex('0b'.repeat(20)), utf8('Hi There'))),
    'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7',
  );
  assert.equal(
    toHex(await hmacSha256(utf8('Jefe'), utf8('what do ya want for nothing?'))),
    '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
  );
});
