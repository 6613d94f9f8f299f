/**
 * The fingerprint of one user's published keys, as the api's key directory returns it.
 * (The pairwise safety number two users compare is packages/crypto's business; this one
 * identifies a single key set, for key-change detection and display.)
 */
import type { PublicKeys } from './primitives.js';

/**
 * SHA-256 over `gossip-keys-v1\n<signingAlg>\n<wrappingKey>\n<signingKey>` (the base64
 * strings as sent), as 64 lowercase hex characters. Runs on WebCrypto, in Node and
 * browsers alike.
 */
export async function publicKeyFingerprint(keys: PublicKeys): Promise<string> {
  const text = `gossip-keys-v1\n${keys.signingAlg}\n${keys.wrappingKey}\n${keys.signingKey}`;
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}
