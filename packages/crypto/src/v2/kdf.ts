/**
 * The v2 key derivations on WebCrypto: HKDF-SHA-256 (RFC 5869) and HMAC-SHA-256 (RFC 2104).
 * Known-answer tests against the RFCs are in test/v2/primitives.test.ts.
 */
import { utf8, type Bytes } from '../bytes.js';

const subtle = (): SubtleCrypto => globalThis.crypto.subtle;

/** HKDF-SHA-256(salt, ikm, info) to `length` bytes. */
export async function hkdf(
  salt: Uint8Array,
  ikm: Uint8Array,
  info: string | Uint8Array,
  length: number,
): Promise<Bytes> {
  const key = await subtle().importKey('raw', new Uint8Array(ikm), 'HKDF', false, ['deriveBits']);
  const bits = await subtle().deriveBits(
    {
      name: 'HKDF',
      hash: 'SHA-256',
      salt: new Uint8Array(salt),
      info: typeof info === 'string' ? utf8(info) : new Uint8Array(info),
    },
    key,
    length * 8,
  );
  return new Uint8Array(bits);
}

/** HMAC-SHA-256(key, data): 32 bytes. */
export async function hmacSha256(key: Uint8Array, data: Uint8Array): Promise<Bytes> {
  const k = await subtle().importKey(
    'raw',
    new Uint8Array(key),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  return new Uint8Array(await subtle().sign('HMAC', k, new Uint8Array(data)));
}
