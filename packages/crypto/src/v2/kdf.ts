/**
 * The v2 key derivations: HKDF-SHA-256 (RFC 5869) and HMAC-SHA-256 (RFC 2104), on
 * @noble/hashes (audited, pure JS, already this package's SHA-256 for attachments).
 * Synchronous: a ratchet step is three HMACs and an HKDF of 32-byte inputs, and WebCrypto
 * cost an `importKey` and a round trip through its job queue for each (about 0.1 ms of CPU
 * per call in Node 20, against 0.01-0.02 ms here; issue 18). Same outputs: the known-answer
 * tests against the RFCs (test/v2/primitives.test.ts) and the v2 vectors pin them.
 * The async `hkdf` and `hmacSha256` are kept for callers that await them.
 */
import { hkdf as nobleHkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8, type Bytes } from '../bytes.js';

/** HKDF-SHA-256(salt, ikm, info) to `length` bytes, synchronously. */
export function hkdfSync(
  salt: Uint8Array,
  ikm: Uint8Array,
  info: string | Uint8Array,
  length: number,
): Bytes {
  const i = typeof info === 'string' ? utf8(info) : info;
  return nobleHkdf(sha256, ikm, salt, i, length) as Bytes;
}

/** HMAC-SHA-256(key, data): 32 bytes, synchronously. */
export function hmacSha256Sync(key: Uint8Array, data: Uint8Array): Bytes {
  return hmac(sha256, key, data) as Bytes;
}

/** HKDF-SHA-256(salt, ikm, info) to `length` bytes. */
export async function hkdf(
  salt: Uint8Array,
  ikm: Uint8Array,
  info: string | Uint8Array,
  length: number,
): Promise<Bytes> {
  return Promise.resolve(hkdfSync(salt, ikm, info, length));
}

/** HMAC-SHA-256(key, data): 32 bytes. */
export async function hmacSha256(key: Uint8Array, data: Uint8Array): Promise<Bytes> {
  return Promise.resolve(hmacSha256Sync(key, data));
}
