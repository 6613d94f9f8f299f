/**
 * Key envelopes: how a conversation key reaches a contact.
 *
 * Wire format of a `kind: "key"` body (the protocol's opaque base64 `body`):
 *
 *     base64( UTF-8( JSON {"v":1,"from":"alice","to":"bob","kid":"<key id>","ts":<ms>,
 *                          "wrapped":"<b64 RSA-OAEP ciphertext>","sig":"<b64 Ed25519>"} ) )
 *
 * - `wrapped` is the raw 32-byte AES key encrypted with the recipient's RSA-OAEP
 *   (SHA-256) public key, with the OAEP label
 *   `encodeFields(["gossip/wrap", "1", from, to, kid])`.
 * - `sig` is the sender's Ed25519 signature over
 *   `encodeFields(["gossip/key", "1", from, to, kid, String(ts), wrapped bytes])`.
 *
 * The receiver checks `from` and `to` against the server-asserted sender and
 * itself, verifies the signature with the sender's *pinned* signing key, and only
 * then unwraps. A server that swaps in its own wrapped key cannot sign it as the
 * sender; one that re-addresses an envelope breaks both signature and label.
 */
import { encodeFields, fromBase64, fromUtf8, toBase64, utf8 } from './bytes.js';
import { CryptoError } from './errors.js';
import { checkKeyId, type ConversationKey } from './message.js';

/** The key envelope format version this package writes and reads. */
export const KEY_ENVELOPE_VERSION = 1;

const subtle = (): SubtleCrypto => globalThis.crypto.subtle;

/** A parsed (not yet verified) key envelope. */
export interface KeyEnvelope {
  v: 1;
  from: string;
  to: string;
  kid: string;
  /** Sender's clock when sealed, milliseconds since the epoch. */
  ts: number;
  wrapped: string;
  sig: string;
}

export interface SealKeyEnvelopeInput {
  conversationKey: ConversationKey;
  from: string;
  to: string;
  /** The recipient's RSA-OAEP public key (from the pinned directory entry). */
  recipientWrappingKey: CryptoKey;
  /** The sender's Ed25519 private key. */
  senderSigningKey: CryptoKey;
  /** @default Date.now() */
  now?: number;
}

export interface OpenKeyEnvelopeInput {
  /** The sender as the server authenticated it (the `deliver` frame's `from`). */
  from: string;
  /** The receiving user: the envelope must be addressed to them. */
  to: string;
  /** The sender's pinned Ed25519 public key. */
  senderSigningKey: CryptoKey;
  /** The receiver's RSA-OAEP private key. */
  recipientUnwrappingKey: CryptoKey;
  /** Whether the unwrapped AES key may be exported (for a file key store). @default true */
  extractable?: boolean;
}

/** What an opened envelope yields. */
export interface OpenedKeyEnvelope {
  conversationKey: ConversationKey;
  from: string;
  to: string;
  ts: number;
}

function wrapLabel(from: string, to: string, kid: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(encodeFields(['gossip/wrap', String(KEY_ENVELOPE_VERSION), from, to, kid]));
}

function signedBytes(
  e: Pick<KeyEnvelope, 'from' | 'to' | 'kid' | 'ts'>,
  wrapped: Uint8Array,
): Uint8Array<ArrayBuffer> {
  return new Uint8Array(
    encodeFields([
      'gossip/key',
      String(KEY_ENVELOPE_VERSION),
      e.from,
      e.to,
      e.kid,
      String(e.ts),
      wrapped,
    ]),
  );
}

/** Wraps a conversation key for the recipient and signs the envelope; returns the base64 body. */
export async function sealKeyEnvelope(input: SealKeyEnvelopeInput): Promise<string> {
  const { conversationKey: ck, from, to } = input;
  checkKeyId(ck.id);
  const ts = input.now ?? Date.now();
  const wrapped = new Uint8Array(
    await subtle().wrapKey('raw', ck.key, input.recipientWrappingKey, {
      name: 'RSA-OAEP',
      label: wrapLabel(from, to, ck.id),
    }),
  );
  const sig = new Uint8Array(
    await subtle().sign(
      'Ed25519',
      input.senderSigningKey,
      signedBytes({ from, to, kid: ck.id, ts }, wrapped),
    ),
  );
  const envelope: KeyEnvelope = {
    v: KEY_ENVELOPE_VERSION,
    from,
    to,
    kid: ck.id,
    ts,
    wrapped: toBase64(wrapped),
    sig: toBase64(sig),
  };
  return toBase64(utf8(JSON.stringify(envelope)));
}

/** Parses a key envelope body without verifying it. Throws `bad_format` when malformed. */
export function parseKeyEnvelope(body: string): KeyEnvelope {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fromUtf8(fromBase64(body)));
  } catch (err) {
    if (err instanceof CryptoError) throw err;
    throw new CryptoError('bad_format', 'key envelope is not JSON', { cause: err });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CryptoError('bad_format', 'key envelope is not an object');
  }
  const o = parsed as Record<string, unknown>;
  if (o.v !== KEY_ENVELOPE_VERSION) {
    throw new CryptoError('bad_format', `unsupported key envelope version ${String(o.v)}`);
  }
  for (const f of ['from', 'to', 'kid', 'wrapped', 'sig'] as const) {
    if (typeof o[f] !== 'string')
      throw new CryptoError('bad_format', `key envelope needs a string ${f}`);
  }
  if (typeof o.ts !== 'number' || !Number.isSafeInteger(o.ts) || o.ts < 0) {
    throw new CryptoError('bad_format', 'key envelope needs an integer ts');
  }
  const e = o as unknown as KeyEnvelope;
  checkKeyId(e.kid);
  fromBase64(e.wrapped);
  if (fromBase64(e.sig).length !== 64)
    throw new CryptoError('bad_format', 'signature must be 64 bytes');
  return {
    v: KEY_ENVELOPE_VERSION,
    from: e.from,
    to: e.to,
    kid: e.kid,
    ts: e.ts,
    wrapped: e.wrapped,
    sig: e.sig,
  };
}

/**
 * Verifies and opens a key envelope: checks it is from `from` to `to`, verifies
 * the signature with the sender's signing key, and only then unwraps the key.
 */
export async function openKeyEnvelope(
  body: string,
  input: OpenKeyEnvelopeInput,
): Promise<OpenedKeyEnvelope> {
  const e = parseKeyEnvelope(body);
  if (e.from !== input.from || e.to !== input.to) {
    throw new CryptoError(
      'context_mismatch',
      'key envelope is addressed from/to someone other than the delivering sender and this user',
    );
  }
  const wrapped = fromBase64(e.wrapped);
  let ok: boolean;
  try {
    ok = await subtle().verify(
      'Ed25519',
      input.senderSigningKey,
      new Uint8Array(fromBase64(e.sig)),
      signedBytes(e, wrapped),
    );
  } catch (err) {
    throw new CryptoError('bad_signature', 'key envelope signature could not be checked', {
      cause: err,
    });
  }
  if (!ok) throw new CryptoError('bad_signature', 'key envelope signature does not verify');
  let key: CryptoKey;
  try {
    key = await subtle().unwrapKey(
      'raw',
      new Uint8Array(wrapped),
      input.recipientUnwrappingKey,
      { name: 'RSA-OAEP', label: wrapLabel(e.from, e.to, e.kid) },
      { name: 'AES-GCM', length: 256 },
      input.extractable ?? true,
      ['encrypt', 'decrypt'],
    );
  } catch (err) {
    throw new CryptoError('unwrap_failed', 'conversation key could not be unwrapped', {
      cause: err,
    });
  }
  if ((key.algorithm as AesKeyAlgorithm).length !== 256) {
    throw new CryptoError('weak_key', 'conversation key must be AES-256');
  }
  return { conversationKey: { id: e.kid, key }, from: e.from, to: e.to, ts: e.ts };
}
