/** One error type for every way a cryptographic check can fail, told apart by `code`. */

/** Why an operation in @gossip/crypto was refused. */
export type CryptoErrorCode =
  /** Input is not in the expected format (bad base64, JSON, version, field types). */
  | 'bad_format'
  /** A key is too weak (RSA modulus under 3072 bits) or of the wrong algorithm. */
  | 'weak_key'
  /** AES-GCM authentication failed: wrong key, wrong context (AAD) or tampered data. */
  | 'decrypt_failed'
  /** RSA-OAEP unwrapping failed: wrong private key, wrong context or tampered data. */
  | 'unwrap_failed'
  /** A signature did not verify against the expected signing key. */
  | 'bad_signature'
  /** The data is authentic but addressed to or from someone else than expected. */
  | 'context_mismatch'
  /** A key is not of the expected algorithm or not a valid point (v2: X25519 keys). */
  | 'bad_key'
  /** v2 ratchet: this message was already decrypted (its key is used) or is older than any kept key. */
  | 'replayed'
  /** v2 ratchet: the message is further ahead in its chain than the number of keys a session may skip. */
  | 'gap_too_large';

/**
 * Thrown by @gossip/crypto. The message never contains key material or plaintext,
 * so it is safe to log.
 */
export class CryptoError extends Error {
  override readonly name = 'CryptoError';
  constructor(
    readonly code: CryptoErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
