/**
 * v2 (issue 16) prekeys: X25519 keys an account publishes in the prekey directory, and
 * the Ed25519 statements that bind them to the account's pinned signing key.
 *
 * A statement is `{ kind, id, publicKey }` (publicKey: base64 of the raw 32 bytes); its
 * signature is the account's Ed25519 signature over
 * `encodeFields(["gossip/prekey", "2", kind, String(id), publicKey])`. The identity key
 * (`kind: "identity"`) has id 0; signed prekeys have ids 0 < id < 2^31. One-time prekeys
 * are published unsigned, as in Signal's X3DH. See docs/security.md, "v2".
 */
import { concatBytes, encodeFields, fromBase64, fromBase64Url, toBase64 } from '../bytes.js';
import type { Bytes } from '../bytes.js';
import { CryptoError } from '../errors.js';

const subtle = (): SubtleCrypto => globalThis.crypto.subtle;

const X25519 = { name: 'X25519' } as const;
/** Length of an X25519 public or private key, in bytes. */
export const X25519_KEY_BYTES = 32;
/** The largest prekey id plus one (ids are 31-bit positive integers). */
export const PREKEY_ID_LIMIT = 2 ** 31;

/** X25519 key pair through WebCrypto (extractable, so it can be stored). */
export async function generateX25519KeyPair(): Promise<CryptoKeyPair> {
  return (await subtle().generateKey(X25519, true, ['deriveBits'])) as CryptoKeyPair;
}

/** The raw 32 bytes of an X25519 public key. */
export async function exportX25519PublicRaw(key: CryptoKey): Promise<Bytes> {
  if (key.type !== 'public' || key.algorithm.name !== 'X25519') {
    throw new CryptoError('bad_key', 'not an X25519 public key');
  }
  return new Uint8Array(await subtle().exportKey('raw', key));
}

/** Public key as standard base64 (bytes.ts toBase64) of its raw 32 bytes. */
export async function exportX25519PublicKey(key: CryptoKey): Promise<string> {
  return toBase64(await exportX25519PublicRaw(key));
}

/** Imports the raw 32 bytes of an X25519 public key; `bad_format` or `bad_key` otherwise. */
export async function importX25519PublicRaw(raw: Uint8Array): Promise<CryptoKey> {
  if (!(raw instanceof Uint8Array) || raw.length !== X25519_KEY_BYTES) {
    throw new CryptoError('bad_format', 'an X25519 public key is 32 bytes');
  }
  try {
    return await subtle().importKey('raw', new Uint8Array(raw), X25519, true, []);
  } catch (err) {
    throw new CryptoError('bad_key', 'not a valid X25519 public key', { cause: err });
  }
}

/** Strict: 44-char base64 of exactly 32 bytes, imports as X25519; else throws CryptoError('bad_format' or 'bad_key'). */
export async function importX25519PublicKey(b64: string): Promise<CryptoKey> {
  if (typeof b64 !== 'string' || b64.length !== 44) {
    throw new CryptoError('bad_format', 'an X25519 public key is 44 characters of base64');
  }
  return importX25519PublicRaw(fromBase64(b64));
}

/** PKCS#8 prefix of an X25519 private key (RFC 8410): the 32 private bytes follow. */
const X25519_PKCS8_PREFIX = new Uint8Array([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
]);

/**
 * Imports an X25519 key pair from its 32 private bytes (RFC 7748 scalar, before clamping).
 * For the local key store and for known-answer tests; the public key is derived.
 */
export async function importX25519PrivateRaw(d: Uint8Array): Promise<CryptoKeyPair> {
  if (!(d instanceof Uint8Array) || d.length !== X25519_KEY_BYTES) {
    throw new CryptoError('bad_format', 'an X25519 private key is 32 bytes');
  }
  let privateKey: CryptoKey;
  try {
    privateKey = await subtle().importKey(
      'pkcs8',
      concatBytes(X25519_PKCS8_PREFIX, d),
      X25519,
      true,
      ['deriveBits'],
    );
  } catch (err) {
    throw new CryptoError('bad_key', 'not a valid X25519 private key', { cause: err });
  }
  const jwk = await subtle().exportKey('jwk', privateKey);
  const publicKey = await importX25519PublicRaw(fromBase64Url(jwk.x ?? ''));
  return { privateKey, publicKey };
}

/** The 32 private bytes of an extractable X25519 private key, for the local key store only. */
export async function exportX25519PrivateRaw(key: CryptoKey): Promise<Bytes> {
  if (key.type !== 'private' || key.algorithm.name !== 'X25519') {
    throw new CryptoError('bad_key', 'not an X25519 private key');
  }
  if (!key.extractable) throw new CryptoError('bad_key', 'key is not extractable');
  const jwk = await subtle().exportKey('jwk', key);
  return fromBase64Url(jwk.d ?? '');
}

/** X25519(private, public): the 32-byte shared secret. `bad_key` on a low-order public key. */
export async function x25519(privateKey: CryptoKey, publicKey: CryptoKey): Promise<Bytes> {
  try {
    return new Uint8Array(
      await subtle().deriveBits({ name: 'X25519', public: publicKey }, privateKey, 256),
    );
  } catch (err) {
    throw new CryptoError('bad_key', 'X25519 agreement failed (low-order or invalid key)', {
      cause: err,
    });
  }
}

export type PrekeyKind = 'identity' | 'signed';
export interface PrekeyStatement {
  kind: PrekeyKind;
  id: number;
  publicKey: string;
}

/** Whether `id` is a valid signed or one-time prekey id: an integer, 0 < id < 2^31. */
export function isPrekeyId(id: unknown): id is number {
  return typeof id === 'number' && Number.isInteger(id) && id > 0 && id < PREKEY_ID_LIMIT;
}

/** Why a statement is malformed, or null when it is well formed. */
function statementProblem(s: PrekeyStatement): string | null {
  if (typeof s !== 'object' || s === null) return 'a prekey statement is an object';
  if (s.kind === 'identity') {
    if (s.id !== 0) return 'the identity key has id 0';
  } else if (s.kind === 'signed') {
    if (!isPrekeyId(s.id)) return 'a signed prekey id is an integer with 0 < id < 2^31';
  } else {
    return "a prekey kind is 'identity' or 'signed'";
  }
  if (typeof s.publicKey !== 'string' || s.publicKey.length !== 44) {
    return 'a prekey is 44 characters of base64';
  }
  try {
    if (fromBase64(s.publicKey).length !== X25519_KEY_BYTES) return 'a prekey is 32 bytes';
  } catch {
    return 'a prekey is base64';
  }
  return null;
}

function statementBytes(s: PrekeyStatement): Bytes {
  return encodeFields(['gossip/prekey', '2', s.kind, String(s.id), s.publicKey]);
}

/** Ed25519 signature (base64) by the account's signing key over
 *  encodeFields(['gossip/prekey', '2', kind, String(id), publicKey]). The X25519 identity key uses id 0. */
export async function signPrekey(
  signingPrivateKey: CryptoKey,
  s: PrekeyStatement,
): Promise<string> {
  const problem = statementProblem(s);
  if (problem) throw new CryptoError('bad_format', problem);
  let sig: ArrayBuffer;
  try {
    sig = await subtle().sign('Ed25519', signingPrivateKey, statementBytes(s));
  } catch (err) {
    throw new CryptoError('bad_key', 'the signing key is not an Ed25519 private key', {
      cause: err,
    });
  }
  return toBase64(new Uint8Array(sig));
}

/** false on a bad signature or unreadable input, never throws for bad input. */
export async function verifyPrekey(
  signingPublicKey: CryptoKey,
  s: PrekeyStatement,
  signature: string,
): Promise<boolean> {
  try {
    if (statementProblem(s) !== null) return false;
    if (typeof signature !== 'string' || signature.length !== 88) return false;
    const sig = fromBase64(signature);
    if (sig.length !== 64) return false;
    return await subtle().verify('Ed25519', signingPublicKey, sig, statementBytes(s));
  } catch {
    return false;
  }
}
