/**
 * The v2 message body (issue 16), the protocol's opaque base64 `body` of a `kind: "message"`:
 *
 *     base64( UTF-8( JSON {"v":2,"sd":"<sender device>","rd":"<recipient device>",
 *                          "h":"<b64, 40-byte ratchet header>","ct":"<b64, AES-GCM ciphertext || 16-byte tag>",
 *                          "x":{"ik":"..","iks":"..","ek":"..","spk":<id>,"opk":<id>,"rsa":".."}} ) )
 *
 * `x` (the X3DH init header) is present on the initiator's messages until its first reply
 * arrives; `opk` is absent when no one-time prekey was used. The parse is strict: unknown
 * fields, wrong types, non-canonical base64 and wrong lengths are all `bad_format`, and no
 * other error type ever comes out of it. Byte layout in docs/security.md, "v2".
 */
import { fromBase64, fromUtf8, toBase64, utf8, type Bytes } from '../bytes.js';
import { CryptoError } from '../errors.js';
import { isPrekeyId } from './prekeys.js';
import type { X3dhInit } from './x3dh.js';

/** The body format version of v2 messages. */
export const MESSAGE_BODY_V2 = 2;
/** Longest device id a v2 body carries. */
export const MAX_DEVICE_ID_LENGTH = 64;
/** The ratchet header's length (ratchet.ts HEADER_BYTES). */
const HEADER_LENGTH = 40;
/** Longest RSA share accepted: RSA-OAEP with an 8192-bit modulus. */
const MAX_RSA_SHARE_BYTES = 1024;
const TAG_LENGTH = 16;

/** A parsed v2 body, with its byte fields decoded. */
export interface MessageBodyV2 {
  v: 2;
  /** Sender's device id. */
  sd: string;
  /** Recipient's device id. */
  rd: string;
  header: Bytes;
  ciphertext: Bytes;
  init?: X3dhInit;
}

function bad(what: string): CryptoError {
  return new CryptoError('bad_format', `v2 body: ${what}`);
}

function bytesOf(v: unknown, what: string, check: (n: number) => boolean): Bytes {
  if (typeof v !== 'string') throw bad(`${what} is not a string`);
  const b = fromBase64(v);
  if (!check(b.length)) throw bad(`${what} has a wrong length`);
  return b;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(o: Record<string, unknown>, allowed: readonly string[], what: string): void {
  for (const k of Object.keys(o))
    if (!allowed.includes(k)) throw bad(`${what} has unknown field ${k}`);
}

function deviceId(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_DEVICE_ID_LENGTH) {
    throw bad(`${what} is not a device id`);
  }
  return v;
}

/** Validates an X3DH init header (body field `x`, or a stored one); `bad_format` otherwise. */
export function parseX3dhInit(v: unknown): X3dhInit {
  if (!isObject(v)) throw bad('x is not an object');
  onlyKeys(v, ['ik', 'iks', 'ek', 'spk', 'opk', 'rsa'], 'x');
  bytesOf(v.ik, 'x.ik', (n) => n === 32);
  bytesOf(v.iks, 'x.iks', (n) => n === 64);
  bytesOf(v.ek, 'x.ek', (n) => n === 32);
  bytesOf(v.rsa, 'x.rsa', (n) => n > 0 && n <= MAX_RSA_SHARE_BYTES);
  if (!isPrekeyId(v.spk)) throw bad('x.spk is not a prekey id');
  if (v.opk !== undefined && !isPrekeyId(v.opk)) throw bad('x.opk is not a prekey id');
  return {
    ik: v.ik as string,
    iks: v.iks as string,
    ek: v.ek as string,
    spk: v.spk,
    ...(v.opk !== undefined ? { opk: v.opk as number } : {}),
    rsa: v.rsa as string,
  };
}

/** Writes a v2 body (fields in the order above). */
export function encodeMessageBodyV2(b: Omit<MessageBodyV2, 'v'>): string {
  const json: Record<string, unknown> = {
    v: MESSAGE_BODY_V2,
    sd: deviceId(b.sd, 'sd'),
    rd: deviceId(b.rd, 'rd'),
    h: toBase64(b.header),
    ct: toBase64(b.ciphertext),
  };
  if (b.init) json.x = parseX3dhInit(b.init);
  return toBase64(utf8(JSON.stringify(json)));
}

/** The version of a message body (1 or 2), or `bad_format`; lets a receiver pick the parser. */
export function messageBodyVersion(body: string): number {
  const o = decodeJson(body);
  if (o.v !== 1 && o.v !== 2) throw bad(`unsupported version ${String(o.v)}`);
  return o.v;
}

function decodeJson(body: string): Record<string, unknown> {
  if (typeof body !== 'string') throw bad('not a string');
  let parsed: unknown;
  try {
    parsed = JSON.parse(fromUtf8(fromBase64(body)));
  } catch (err) {
    if (err instanceof CryptoError) throw err;
    throw new CryptoError('bad_format', 'v2 body is not JSON', { cause: err });
  }
  if (!isObject(parsed)) throw bad('not an object');
  return parsed;
}

/** Parses a v2 body strictly; only ever throws `CryptoError('bad_format')`. */
export function parseMessageBodyV2(body: string): MessageBodyV2 {
  const o = decodeJson(body);
  if (o.v !== MESSAGE_BODY_V2) throw bad(`unsupported version ${String(o.v)}`);
  onlyKeys(o, ['v', 'sd', 'rd', 'h', 'ct', 'x'], 'body');
  const out: MessageBodyV2 = {
    v: MESSAGE_BODY_V2,
    sd: deviceId(o.sd, 'sd'),
    rd: deviceId(o.rd, 'rd'),
    header: bytesOf(o.h, 'h', (n) => n === HEADER_LENGTH),
    ciphertext: bytesOf(o.ct, 'ct', (n) => n >= TAG_LENGTH),
  };
  if (o.x !== undefined) out.init = parseX3dhInit(o.x);
  return out;
}
