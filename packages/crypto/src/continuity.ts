/**
 * Key-change continuity proofs: when a user replaces their keys, the client signs the new
 * public keys with the *previous* Ed25519 signing key. A contact who pinned the previous
 * keys can then tell a genuine rotation (signed by the key they trust) from a server
 * swapping keys behind the user's back, or from a user who lost their keys (no proof: an
 * identity reset, shown loudly).
 *
 *     proof = Ed25519.sign(previous signing key,
 *               F("gossip/key-change", "1", username, previous signing SPKI,
 *                 new signing SPKI, new wrapping SPKI))
 *
 * The username and the previous key are bound in, so a proof cannot be moved to another
 * account or presented as a step from a different key.
 */
import { encodeFields, fromBase64, toBase64 } from './bytes.js';
import { CryptoError } from './errors.js';
import { importSigningPublicKey, type PublicKeyStrings } from './keys.js';

/** The proof format version this package writes and reads. */
export const KEY_CHANGE_PROOF_VERSION = 1;

const subtle = (): SubtleCrypto => globalThis.crypto.subtle;

/** What a key-change proof is over. */
export interface KeyChangeStatement {
  username: string;
  /** base64 SPKI of the signing key being replaced. */
  previousSigningKey: string;
  /** The new published keys (base64 SPKI). */
  next: PublicKeyStrings;
}

function statementBytes(s: KeyChangeStatement): Uint8Array<ArrayBuffer> {
  return new Uint8Array(
    encodeFields([
      'gossip/key-change',
      String(KEY_CHANGE_PROOF_VERSION),
      s.username,
      s.previousSigningKey,
      s.next.signingKey,
      s.next.wrappingKey,
    ]),
  );
}

/**
 * Signs a key change with the previous signing private key; returns the base64 proof
 * (64 bytes) to send with `PUT /v1/me/keys`.
 */
export async function signKeyChange(
  statement: KeyChangeStatement,
  previousSigningPrivateKey: CryptoKey,
): Promise<string> {
  const sig = await subtle().sign('Ed25519', previousSigningPrivateKey, statementBytes(statement));
  return toBase64(new Uint8Array(sig));
}

/**
 * Whether `proof` is a valid signature of `statement` by `statement.previousSigningKey`.
 * A malformed proof or key is `false`, never a throw, so callers can treat every failure
 * as "not proven".
 */
export async function verifyKeyChange(
  statement: KeyChangeStatement,
  proof: string,
): Promise<boolean> {
  let sig: Uint8Array<ArrayBuffer>;
  let key: CryptoKey;
  try {
    sig = fromBase64(proof);
    if (sig.length !== 64) return false;
    key = await importSigningPublicKey(statement.previousSigningKey);
  } catch (err) {
    if (err instanceof CryptoError) return false;
    throw err;
  }
  try {
    return await subtle().verify('Ed25519', key, sig, statementBytes(statement));
  } catch {
    return false;
  }
}

/** One step of a user's key history as the directory serves it. */
export interface KeyChainStep {
  keyVersion: number;
  keys: PublicKeyStrings;
  /** base64 proof by the previous version's signing key; null for an unsigned reset. */
  proof: string | null;
}

/**
 * Checks that the directory's key history leads, step by signed step, from the keys a
 * client pinned (`from`) to the keys now published (`to`). Returns false on any gap, an
 * unsigned step or a bad signature: the change must then be treated as an identity reset.
 */
export async function verifyKeyChain(input: {
  username: string;
  from: { keyVersion: number; signingKey: string };
  to: { keyVersion: number; keys: PublicKeyStrings };
  chain: readonly KeyChainStep[];
}): Promise<boolean> {
  const { username, from, to, chain } = input;
  if (to.keyVersion <= from.keyVersion) return false;
  let signingKey = from.signingKey;
  let version = from.keyVersion;
  let last: PublicKeyStrings | undefined;
  for (const step of [...chain].sort((a, b) => a.keyVersion - b.keyVersion)) {
    if (step.keyVersion <= version) continue;
    if (step.keyVersion !== version + 1 || step.proof === null) return false;
    const ok = await verifyKeyChange(
      { username, previousSigningKey: signingKey, next: step.keys },
      step.proof,
    );
    if (!ok) return false;
    signingKey = step.keys.signingKey;
    version = step.keyVersion;
    last = step.keys;
    if (version === to.keyVersion) break;
  }
  return (
    version === to.keyVersion &&
    last !== undefined &&
    last.signingKey === to.keys.signingKey &&
    last.wrappingKey === to.keys.wrappingKey
  );
}
