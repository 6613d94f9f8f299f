/**
 * Uploading a file: encrypted chunk by chunk as it is read, sent in parts, resumed from
 * the api's `received` after a cut (an api restart mid-upload), then finished with the
 * ciphertext digest and the recipients. At most one part and one chunk are in memory.
 */
import {
  AttachmentDigest,
  encryptAttachment,
  generateAttachmentKey,
  type ByteSource,
} from '@gossip/crypto';
import {
  attachmentCiphertextBytes,
  MAX_ATTACHMENT_PART_BYTES,
  MIN_ATTACHMENT_PART_BYTES,
} from '@gossip/protocol';
import type { ApiClient } from '../api.js';
import { ApiError } from '../errors.js';
import type { Thumbnail } from './message.js';
import { AttachmentsApi } from './rest.js';
import { resuming, type ResumeOptions } from './retry.js';
import { concatParts, readStream } from './streams.js';

/** A file to send: bytes, a `Blob`/`File`, or a stream of bytes (then `size` is required). */
export type FileSource = Uint8Array | Blob | ByteSource;

/** Bytes moved so far (ciphertext: what crosses the network) of `total`. */
export interface TransferProgress {
  done: number;
  total: number;
}

export interface SendFileOptions extends ResumeOptions {
  /** The file name shown to the recipient. */
  name: string;
  /** Its media type. @default the Blob's type, else application/octet-stream */
  type?: string;
  /** Plaintext bytes: required for a stream, checked against what it yields. */
  size?: number;
  thumbnail?: Thumbnail;
  /** A caption sent with the file. */
  text?: string;
  onProgress?: (p: TransferProgress) => void;
  /** Ciphertext bytes per request (64 KiB to 8 MiB). @default 1 MiB */
  partBytes?: number;
}

/** What the message carrying the file needs from the upload. */
export interface UploadedFile {
  id: string;
  key: string;
  digest: string;
  size: number;
}

/** Encrypts `source`, uploads it and finishes it for `recipients`. */
export async function uploadFile(
  api: ApiClient,
  source: FileSource,
  recipients: string[],
  opts: SendFileOptions,
): Promise<UploadedFile> {
  const size = plainSize(source, opts.size);
  const total = attachmentCiphertextBytes(size);
  const partBytes = Math.max(
    MIN_ATTACHMENT_PART_BYTES,
    Math.min(opts.partBytes ?? 1024 * 1024, MAX_ATTACHMENT_PART_BYTES),
  );
  const rest = new AttachmentsApi(api);
  const key = await generateAttachmentKey();
  const created = await rest.create(total);
  const id = created.id;
  const digest = new AttachmentDigest();
  let sent = 0;
  opts.onProgress?.({ done: 0, total });

  const sendPart = async (part: Uint8Array): Promise<void> => {
    const start = sent;
    const end = start + part.length;
    let offset = start;
    let askFirst = false;
    await resuming(
      async () => {
        if (askFirst) {
          // After a failure, the api says what it kept: a cut request stored nothing, a
          // request whose answer was lost stored everything.
          const status = await rest.status(id);
          if (status.received < start || status.received > end) {
            throw new Error(
              `upload ${id}: the api holds ${status.received} bytes, expected ${start} to ${end}`,
            );
          }
          offset = status.received;
          askFirst = false;
          if (offset === end) return;
        }
        try {
          await rest.putPart(id, offset, part.subarray(offset - start), total);
        } catch (err) {
          askFirst = true;
          throw err;
        }
      },
      { ...opts, retryAlso: isOffsetMismatch },
    );
    sent = end;
    opts.onProgress?.({ done: sent, total });
  };

  try {
    let part: Uint8Array[] = [];
    let partLength = 0;
    for await (const chunk of encryptAttachment(key, counted(bytesOf(source), size))) {
      digest.update(chunk);
      part.push(chunk);
      partLength += chunk.length;
      if (partLength >= partBytes) {
        await sendPart(concatParts(part, partLength));
        part = [];
        partLength = 0;
      }
    }
    if (partLength > 0) await sendPart(concatParts(part, partLength));
    await resuming(async () => {
      try {
        await rest.finish(id, { digest: digest.digest(), recipients });
      } catch (err) {
        // A retry after a finish whose answer was lost: the api says it is finished.
        if (err instanceof ApiError && err.code === 'attachment_finished') return;
        throw err;
      }
    }, opts);
  } catch (err) {
    // Nothing half-sent is left to count against the quota (the api's timeout would too).
    await rest.remove(id).catch(() => undefined);
    throw err;
  }
  return { id, key: key.raw, digest: digest.digest(), size };
}

const isOffsetMismatch = (err: unknown): boolean =>
  err instanceof ApiError && err.code === 'attachment_offset_mismatch';

function plainSize(source: FileSource, size: number | undefined): number {
  const known =
    source instanceof Uint8Array ? source.length : isBlob(source) ? source.size : undefined;
  if (known !== undefined && size !== undefined && known !== size) {
    throw new Error(`size ${size} does not match the file's ${known} bytes`);
  }
  const n = known ?? size;
  if (n === undefined) throw new Error('sending a stream needs its size (options.size)');
  if (!Number.isSafeInteger(n) || n < 0) throw new Error('size must be a non-negative integer');
  return n;
}

function isBlob(source: FileSource): source is Blob {
  return typeof Blob !== 'undefined' && source instanceof Blob;
}

function bytesOf(source: FileSource): ByteSource {
  if (source instanceof Uint8Array) return [source];
  if (isBlob(source)) return readStream(source.stream());
  return source;
}

/** Passes `source` through, throwing if it yields more or fewer than `size` bytes. */
async function* counted(source: ByteSource, size: number): AsyncGenerator<Uint8Array> {
  let n = 0;
  for await (const part of source) {
    n += part.length;
    if (n > size) throw new Error(`the file yielded more than its ${size} bytes`);
    yield part;
  }
  if (n !== size) throw new Error(`the file yielded ${n} bytes, not its ${size}`);
}
