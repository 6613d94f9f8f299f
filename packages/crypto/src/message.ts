/**
 * Message bodies: AES-256-GCM under a conversation key.
 *
 * Wire format of a `kind: "message"` body (the protocol's opaque base64 `body`):
 *
 *     base64( UTF-8( JSON {"v":1,"kid":"<conversation key id>","iv":"<b64, 12 bytes>","ct":"<b64>"} ) )
 *
 * `ct` is the GCM ciphertext followed by its 16-byte tag. The IV is 96 fresh random
 * bits per message. The additional authenticated data is
 * `encodeFields(["gossip/msg", "1", from, to, id, kid])`, so a body only decrypts
 * for the sender, recipient and message id it was made for: the server cannot
 * re-address it, replay it under another id, or pass it off as another user's.
 */
import {
  encodeFields,
  fromBase64,
  fromBase64Url,
  fromUtf8,
  randomBytes,
  toBase64,
  toBase64Url,
  utf8,
} from './bytes.js';
import { CryptoError } from './errors.js';

/** The body format version this package writes and reads. */
export const MESSAGE_BODY_VERSION = 1;
/** GCM IV length in bytes (96 bits, the length GCM is designed for). */
export const IV_BYTES = 12;
/** GCM tag length in bytes. */
export const TAG_BYTES = 16;

const subtle = (): SubtleCrypto => globalThis.crypto.subtle;

/** A conversation key: an AES-256-GCM key and the id both sides know it by. */
export interface ConversationKey {
  /** Random, unguessable, base64url (22 chars); names the key in bodies and envelopes. */
  id: string;
  key: CryptoKey;
}

/** Who a message is from and to, and its id: bound into the AAD. */
export interface MessageContext {
  from: string;
  to: string;
  id: string;
}

/** A parsed message body. */
export interface MessageBody {
  v: 1;
  kid: string;
  iv: string;
  ct: string;
}

/**
 * Makes a fresh random conversation key. It is extractable because it has to be
 * wrapped for the contact (and, in Node, written to the key file).
 */
export async function generateConversationKey(): Promise<ConversationKey> {
  return importConversationKey(toBase64Url(randomBytes(16)), randomBytes(32));
}

/** Imports a raw 32-byte AES key under a known id. */
export async function importConversationKey(
  id: string,
  raw: Uint8Array,
  extractable = true,
): Promise<ConversationKey> {
  checkKeyId(id);
  if (raw.length !== 32) throw new CryptoError('bad_format', 'conversation key must be 32 bytes');
  const key = await subtle().importKey('raw', new Uint8Array(raw), 'AES-GCM', extractable, [
    'encrypt',
    'decrypt',
  ]);
  return { id, key };
}

/** The raw 32 bytes of a conversation key, for the local key store only. */
export async function exportConversationKey(ck: ConversationKey): Promise<Uint8Array> {
  return new Uint8Array(await subtle().exportKey('raw', ck.key));
}

/** Checks a conversation key id: base64url of 16 bytes. */
export function checkKeyId(id: string): void {
  if (typeof id !== 'string' || id.length !== 22 || fromBase64Url(id).length !== 16) {
    throw new CryptoError('bad_format', 'conversation key id must be base64url of 16 bytes');
  }
}

/** The AAD a message body is bound to. */
export function messageAad(ctx: MessageContext, kid: string): Uint8Array {
  return encodeFields(['gossip/msg', String(MESSAGE_BODY_VERSION), ctx.from, ctx.to, ctx.id, kid]);
}

/**
 * AES-256-GCM with a caller-chosen IV. Internal: exported for known-answer tests
 * only. Reusing an IV under one key breaks GCM, so application code must use
 * `encryptMessage`, which always draws a fresh one.
 */
export async function aesGcmSeal(
  key: CryptoKey,
  iv: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Promise<Uint8Array> {
  const ct = await subtle().encrypt(
    {
      name: 'AES-GCM',
      iv: new Uint8Array(iv),
      additionalData: new Uint8Array(aad),
      tagLength: TAG_BYTES * 8,
    },
    key,
    new Uint8Array(plaintext),
  );
  return new Uint8Array(ct);
}

/** AES-256-GCM decryption; any authentication failure is `decrypt_failed`. */
export async function aesGcmOpen(
  key: CryptoKey,
  iv: Uint8Array,
  ciphertext: Uint8Array,
  aad: Uint8Array,
): Promise<Uint8Array> {
  try {
    const pt = await subtle().decrypt(
      {
        name: 'AES-GCM',
        iv: new Uint8Array(iv),
        additionalData: new Uint8Array(aad),
        tagLength: TAG_BYTES * 8,
      },
      key,
      new Uint8Array(ciphertext),
    );
    return new Uint8Array(pt);
  } catch (err) {
    throw new CryptoError(
      'decrypt_failed',
      'message did not authenticate (wrong key, wrong sender/recipient/id, or tampered)',
      { cause: err },
    );
  }
}

/** Encrypts a message (bytes or text) into a base64 body. */
export async function encryptMessage(
  ck: ConversationKey,
  plaintext: Uint8Array | string,
  ctx: MessageContext,
): Promise<string> {
  const iv = randomBytes(IV_BYTES);
  const data = typeof plaintext === 'string' ? utf8(plaintext) : plaintext;
  const ct = await aesGcmSeal(ck.key, iv, data, messageAad(ctx, ck.id));
  const body: MessageBody = {
    v: MESSAGE_BODY_VERSION,
    kid: ck.id,
    iv: toBase64(iv),
    ct: toBase64(ct),
  };
  return toBase64(utf8(JSON.stringify(body)));
}

/**
 * Parses a message body without decrypting it, so a receiver can find the
 * conversation key by `kid`. Throws `bad_format` for anything malformed.
 */
export function parseMessageBody(body: string): MessageBody {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fromUtf8(fromBase64(body)));
  } catch (err) {
    if (err instanceof CryptoError) throw err;
    throw new CryptoError('bad_format', 'message body is not JSON', { cause: err });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CryptoError('bad_format', 'message body is not an object');
  }
  const o = parsed as Record<string, unknown>;
  if (o.v !== MESSAGE_BODY_VERSION) {
    throw new CryptoError('bad_format', `unsupported message body version ${String(o.v)}`);
  }
  if (typeof o.kid !== 'string' || typeof o.iv !== 'string' || typeof o.ct !== 'string') {
    throw new CryptoError('bad_format', 'message body needs string kid, iv and ct');
  }
  checkKeyId(o.kid);
  if (fromBase64(o.iv).length !== IV_BYTES)
    throw new CryptoError('bad_format', 'IV must be 12 bytes');
  if (fromBase64(o.ct).length < TAG_BYTES)
    throw new CryptoError('bad_format', 'ciphertext too short');
  return { v: MESSAGE_BODY_VERSION, kid: o.kid, iv: o.iv, ct: o.ct };
}

/** Decrypts a base64 body to bytes. The key's id must match the body's `kid`. */
export async function decryptMessage(
  ck: ConversationKey,
  body: string,
  ctx: MessageContext,
): Promise<Uint8Array> {
  const parsed = parseMessageBody(body);
  if (parsed.kid !== ck.id) {
    throw new CryptoError(
      'context_mismatch',
      'message was encrypted under another conversation key',
    );
  }
  return aesGcmOpen(ck.key, fromBase64(parsed.iv), fromBase64(parsed.ct), messageAad(ctx, ck.id));
}

/** Decrypts a base64 body to text (UTF-8). */
export async function decryptMessageText(
  ck: ConversationKey,
  body: string,
  ctx: MessageContext,
): Promise<string> {
  return fromUtf8(await decryptMessage(ck, body, ctx));
}

/**
 * The length of the base64 body `encryptMessage` produces for a plaintext of
 * `plaintextBytes`, so callers can check the protocol's body size limit up front.
 */
export function messageBodyLength(plaintextBytes: number): number {
  const b64 = (n: number): number => Math.ceil(n / 3) * 4;
  const json = `{"v":1,"kid":"${'x'.repeat(22)}","iv":"${'x'.repeat(16)}","ct":""}`.length;
  return b64(json + b64(plaintextBytes + TAG_BYTES));
}
