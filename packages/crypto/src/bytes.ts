/**
 * Byte helpers that work the same in Node and browsers (no Buffer): UTF-8, strict
 * base64 and base64url, and the canonical field encoding every signature, AAD and
 * fingerprint in this package is computed over.
 */
import { CryptoError } from './errors.js';

/** Bytes backed by a plain ArrayBuffer, which is what WebCrypto accepts. */
export type Bytes = Uint8Array<ArrayBuffer>;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 bytes of a string. */
export function utf8(text: string): Bytes {
  return encoder.encode(text);
}

/** Decodes UTF-8, throwing `bad_format` on invalid sequences instead of inserting U+FFFD. */
export function fromUtf8(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch (err) {
    throw new CryptoError('bad_format', 'invalid UTF-8', { cause: err });
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/**
 * Node's Buffer when there is one: `btoa`/`atob` are legacy in Node and several times
 * slower (a 64 KiB message spent most of its encryption time in them). Browsers have no
 * Buffer and use `btoa`/`atob`.
 */
const nodeBuffer = (): typeof Buffer | undefined =>
  (globalThis as { Buffer?: typeof Buffer }).Buffer;

/** Standard base64 with padding. */
export function toBase64(bytes: Uint8Array): string {
  const NodeBuffer = nodeBuffer();
  if (NodeBuffer) {
    return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  }
  let binary = '';
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return globalThis.btoa(binary);
}

/**
 * Decodes standard padded base64. Strict: whitespace, missing padding or the
 * URL-safe alphabet are `bad_format`, so one value has exactly one encoding.
 */
export function fromBase64(text: string): Bytes {
  if (typeof text !== 'string' || text.length % 4 !== 0) {
    throw new CryptoError('bad_format', 'invalid base64');
  }
  const NodeBuffer = nodeBuffer();
  if (NodeBuffer) {
    // Buffer's decoder is lenient (whitespace, the URL-safe alphabet, junk); strict means
    // the text is exactly what encoding the bytes gives back, checked without a regex.
    const bytes = NodeBuffer.from(text, 'base64');
    if (bytes.toString('base64') !== text) throw new CryptoError('bad_format', 'invalid base64');
    return new Uint8Array(bytes);
  }
  if (!BASE64.test(text)) throw new CryptoError('bad_format', 'invalid base64');
  const binary = globalThis.atob(text);
  // Unused bits in the last group must be zero ("QR==" is not "QQ=="), as above.
  if (globalThis.btoa(binary) !== text) throw new CryptoError('bad_format', 'invalid base64');
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** base64url without padding (RFC 4648 §5), as used in JWK and ids. */
export function toBase64Url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Decodes unpadded base64url. */
export function fromBase64Url(text: string): Bytes {
  if (typeof text !== 'string' || !BASE64URL.test(text) || text.length % 4 === 1) {
    throw new CryptoError('bad_format', 'invalid base64url');
  }
  const padded = text.replace(/-/g, '+').replace(/_/g, '/');
  return fromBase64(padded + '='.repeat((4 - (padded.length % 4)) % 4));
}

/** Lower-case hex. */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

/** Parses hex (even length, 0-9a-f, either case). */
export function fromHex(text: string): Bytes {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw new CryptoError('bad_format', 'invalid hex');
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Concatenates byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Bytes {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Byte-wise equality (not constant time: use only on public data). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lexicographic byte comparison, for sorting keys into a canonical order. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/**
 * The canonical encoding of a list of fields: each field as a 4-byte big-endian
 * length followed by its bytes (strings as UTF-8). Unlike joining with a
 * separator, no two different lists encode to the same bytes, so a signature or
 * AAD over `["a|b", "c"]` can never be replayed as `["a", "b|c"]`.
 */
export function encodeFields(fields: readonly (string | Uint8Array)[]): Bytes {
  const parts: Uint8Array[] = [];
  for (const field of fields) {
    const bytes = typeof field === 'string' ? utf8(field) : field;
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, bytes.length, false);
    parts.push(len, bytes);
  }
  return concatBytes(...parts);
}

/** Cryptographically random bytes from WebCrypto. */
export function randomBytes(length: number): Bytes {
  return globalThis.crypto.getRandomValues(new Uint8Array(length));
}
