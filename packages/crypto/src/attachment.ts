/**
 * Attachments: a file encrypted in fixed-size chunks with AES-256-GCM under a fresh random
 * key of its own, so it can be encrypted, uploaded, downloaded and checked piece by piece
 * without the whole file in memory.
 *
 * Ciphertext of a file (what the api stores, byte for byte):
 *
 *     chunk_0 || chunk_1 || ... || chunk_n      chunk_i = GCM(key, nonce(i), p_i, aad(i, last)) || tag_i
 *
 * - The plaintext is cut into `ATTACHMENT_CHUNK_BYTES` (65,536) byte pieces `p_i`; only the
 *   last may be shorter, and an empty file is one empty last chunk, so there is always one.
 * - `nonce(i)` is 12 bytes: four zero bytes, then `i` as an unsigned 64-bit big-endian
 *   integer. A key encrypts one file only, so a nonce never repeats under a key.
 * - `aad(i, last) = encodeFields(["gossip/attachment", "1", String(i), last ? "last" : "more"])`.
 *   A chunk moved to another position fails (its index is bound), a file cut after a whole
 *   chunk fails (that chunk was sealed as "more" but is now read as the last), and a chunk
 *   appended after the last fails (the old last is now read as "more").
 * - The digest the api checks and the recipient verifies is SHA-256 of the whole
 *   ciphertext, base64url without padding.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { ATTACHMENT_CHUNK_BYTES, ATTACHMENT_TAG_BYTES } from '@gossip/protocol';
import { encodeFields, fromBase64Url, randomBytes, toBase64Url, type Bytes } from './bytes.js';
import { CryptoError } from './errors.js';
import { aesGcmOpen, aesGcmSeal, IV_BYTES } from './message.js';

/** The attachment format version this package writes and reads (bound into every chunk). */
export const ATTACHMENT_FORMAT_VERSION = 1;

/** Bytes of one full encrypted chunk: the plaintext chunk and its tag. */
export const ATTACHMENT_SEALED_CHUNK_BYTES = ATTACHMENT_CHUNK_BYTES + ATTACHMENT_TAG_BYTES;

/** Something that yields bytes: a Node stream, a `ReadableStream` reader loop, an array. */
export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** The key of one file, and its raw form for the message that carries it. */
export interface AttachmentKey {
  key: CryptoKey;
  /** The raw 32 bytes, base64url without padding (43 characters). */
  raw: string;
}

const subtle = (): SubtleCrypto => globalThis.crypto.subtle;

/** A fresh random key for one file. Never use it for a second file. */
export async function generateAttachmentKey(): Promise<AttachmentKey> {
  return importAttachmentKey(toBase64Url(randomBytes(32)));
}

/** Imports a key received in an attachment message (`bad_format` unless 32 bytes). */
export async function importAttachmentKey(raw: string): Promise<AttachmentKey> {
  const bytes = fromBase64Url(raw);
  if (bytes.length !== 32) throw new CryptoError('bad_format', 'attachment key must be 32 bytes');
  const key = await subtle().importKey('raw', bytes, 'AES-GCM', false, ['encrypt', 'decrypt']);
  return { key, raw };
}

/** The nonce of chunk `index`: four zero bytes, then the index as a 64-bit big-endian integer. */
export function attachmentChunkNonce(index: number): Bytes {
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new CryptoError('bad_format', 'chunk index must be a non-negative integer');
  }
  const nonce = new Uint8Array(IV_BYTES);
  new DataView(nonce.buffer).setBigUint64(4, BigInt(index), false);
  return nonce;
}

/** The associated data of chunk `index`: binds its position and whether it is the last. */
export function attachmentChunkAad(index: number, last: boolean): Bytes {
  return encodeFields([
    'gossip/attachment',
    String(ATTACHMENT_FORMAT_VERSION),
    String(index),
    last ? 'last' : 'more',
  ]);
}

/**
 * Incremental SHA-256 over the ciphertext, fed as it is produced or received. WebCrypto's
 * `digest()` takes its whole input at once, which would mean the whole file in memory.
 */
export class AttachmentDigest {
  private readonly hash = sha256.create();
  private result: string | undefined;

  /** Adds the next bytes of the ciphertext (not after `digest()`). */
  update(bytes: Uint8Array): this {
    if (this.result !== undefined) throw new Error('AttachmentDigest.update after digest()');
    this.hash.update(bytes);
    return this;
  }

  /** The digest of everything added, base64url without padding; later calls repeat it. */
  digest(): string {
    this.result ??= toBase64Url(new Uint8Array(this.hash.digest()));
    return this.result;
  }
}

/**
 * Re-cuts a byte stream into pieces of exactly `size` bytes, except the last, and says
 * which piece is the last: it reads one byte ahead, so a stream that ends on a piece
 * boundary marks that full piece as the last. An empty stream gives one empty last piece.
 */
export async function* fixedPieces(
  source: ByteSource,
  size: number,
): AsyncGenerator<{ bytes: Bytes; last: boolean }> {
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const take = (n: number): Bytes => {
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const head = pending[0]!;
      const used = Math.min(head.length, n - at);
      out.set(head.subarray(0, used), at);
      at += used;
      if (used === head.length) pending.shift();
      else pending[0] = head.subarray(used);
    }
    pendingBytes -= n;
    return out;
  };
  for await (const part of source) {
    if (!(part instanceof Uint8Array)) {
      throw new CryptoError('bad_format', 'a byte source must yield Uint8Array chunks');
    }
    if (part.length === 0) continue;
    pending.push(part);
    pendingBytes += part.length;
    // Strictly more than a piece: only then is this piece known not to be the last.
    while (pendingBytes > size) yield { bytes: take(size), last: false };
  }
  const rest = take(pendingBytes);
  pending = [];
  yield { bytes: rest, last: true };
}

/**
 * Encrypts a file as it is read: yields one sealed chunk (plaintext chunk + 16-byte tag)
 * per `ATTACHMENT_CHUNK_BYTES` of input, the last flagged as such in its AAD. Memory use
 * is about two chunks whatever the file's size.
 */
export async function* encryptAttachment(
  key: AttachmentKey,
  plaintext: ByteSource,
): AsyncGenerator<Bytes> {
  let index = 0;
  for await (const piece of fixedPieces(plaintext, ATTACHMENT_CHUNK_BYTES)) {
    const sealed = await aesGcmSeal(
      key.key,
      attachmentChunkNonce(index),
      piece.bytes,
      attachmentChunkAad(index, piece.last),
    );
    yield new Uint8Array(sealed);
    index++;
  }
}

/** What the recipient expects of a file, from the message that carried it. */
export interface AttachmentExpectation {
  /** Plaintext bytes. */
  size: number;
  /** SHA-256 of the whole ciphertext, base64url. */
  digest: string;
}

/**
 * Decrypts and verifies a file as it is read. Every chunk is authenticated before its
 * plaintext is yielded; a flipped byte, a chunk moved, dropped or appended, or a file cut
 * short throws `decrypt_failed`. With `expected`, the ciphertext's digest and the
 * plaintext size are checked too, and the LAST plaintext chunk is yielded only after they
 * matched: a consumer that keeps what it got only once the loop ended without an error
 * (see the SDK's download) never keeps an unverified file.
 */
export async function* decryptAttachment(
  key: AttachmentKey,
  ciphertext: ByteSource,
  expected?: AttachmentExpectation,
): AsyncGenerator<Uint8Array> {
  const digest = new AttachmentDigest();
  let index = 0;
  let plainBytes = 0;
  for await (const piece of fixedPieces(ciphertext, ATTACHMENT_SEALED_CHUNK_BYTES)) {
    if (piece.bytes.length < ATTACHMENT_TAG_BYTES) {
      throw new CryptoError(
        'decrypt_failed',
        piece.bytes.length === 0 && index === 0
          ? 'attachment is empty (every file has at least one chunk)'
          : 'attachment was cut inside a chunk tag',
      );
    }
    digest.update(piece.bytes);
    const plain = await aesGcmOpen(
      key.key,
      attachmentChunkNonce(index),
      piece.bytes,
      attachmentChunkAad(index, piece.last),
    ).catch((err: unknown) => {
      throw new CryptoError(
        'decrypt_failed',
        `attachment chunk ${index} did not authenticate (tampered, reordered, dropped or cut)`,
        { cause: err },
      );
    });
    plainBytes += plain.length;
    if (piece.last && expected) {
      if (digest.digest() !== expected.digest) {
        throw new CryptoError('decrypt_failed', 'attachment digest does not match its message');
      }
      if (plainBytes !== expected.size) {
        throw new CryptoError(
          'decrypt_failed',
          `attachment is ${plainBytes} bytes, its message says ${expected.size}`,
        );
      }
    }
    yield plain;
    index++;
  }
}
