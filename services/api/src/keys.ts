/**
 * Public key checks for the key directory: each key must import through WebCrypto as
 * what it claims to be (RSA-OAEP-SHA-256 of 3072 to 4096 bits, Ed25519), so the
 * directory never hands out a key a client cannot use.
 */
import { fingerprint, importPublicKeys } from '@gossip/crypto';
import { RSA_MAX_BITS, type PublicKeys } from '@gossip/protocol';
import { ApiError } from './errors.js';

/** Throws `invalid_key` unless both keys are valid public keys of the right kind and size. */
export async function checkPublicKeys(keys: PublicKeys): Promise<void> {
  let imported;
  try {
    imported = await importPublicKeys(keys);
  } catch (err) {
    const why = err instanceof Error ? err.message : 'unreadable key';
    throw new ApiError('invalid_key', `Invalid public key: ${why}.`);
  }
  const bits = (imported.wrappingKey.algorithm as RsaHashedKeyAlgorithm).modulusLength;
  if (bits > RSA_MAX_BITS) {
    throw new ApiError(
      'invalid_key',
      `The wrapping key has ${bits} bits; at most ${RSA_MAX_BITS}.`,
    );
  }
}

/** The directory's 30-digit fingerprint of a user's keys (packages/crypto `fingerprint`). */
export function keyFingerprint(username: string, keys: PublicKeys): Promise<string> {
  return fingerprint({ username, wrappingKey: keys.wrappingKey, signingKey: keys.signingKey });
}
