/**
 * Downloading a file: the ciphertext is streamed, resumed with `Range` from the last byte
 * received after a cut, and decrypted chunk by chunk; every chunk is authenticated and the
 * whole ciphertext's digest and the size are checked against the message before the last
 * piece of plaintext is handed on. `download` gives the file only once all of that passed;
 * `downloadTo` streams into a sink that must keep nothing unless it resolves.
 */
import { decryptAttachment, importAttachmentKey } from '@gossip/crypto';
import { attachmentCiphertextBytes } from '@gossip/protocol';
import type { ApiClient } from '../api.js';
import type { AttachmentRef } from './message.js';
import { AttachmentsApi } from './rest.js';
import { isTransient, type ResumeOptions } from './retry.js';
import { concatParts, readStream } from './streams.js';
import type { TransferProgress } from './upload.js';

export interface DownloadOptions extends ResumeOptions {
  onProgress?: (p: TransferProgress) => void;
  /** Longest one request may take, body included, before it is cut and resumed (ms). @default 600000 */
  requestTimeoutMs?: number;
}

/** Where `downloadTo` writes plaintext: provisional until `downloadTo` resolves. */
export interface FileSink {
  write(chunk: Uint8Array): void | Promise<void>;
}

/** Downloads, verifies and decrypts `ref`; resolves with the file only if all checks passed. */
export async function download(
  api: ApiClient,
  ref: AttachmentRef,
  opts: DownloadOptions = {},
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let length = 0;
  await downloadTo(
    api,
    ref,
    {
      write(chunk) {
        parts.push(chunk);
        length += chunk.length;
      },
    },
    opts,
  );
  return concatParts(parts, length);
}

/**
 * Streams the verified plaintext of `ref` into `sink`. It throws (a `CryptoError`
 * `decrypt_failed` for tampering) before the last chunk if anything does not match, so a
 * sink that commits only on success never keeps a bad file.
 */
export async function downloadTo(
  api: ApiClient,
  ref: AttachmentRef,
  sink: FileSink,
  opts: DownloadOptions = {},
): Promise<void> {
  const key = await importAttachmentKey(ref.key);
  const source = ciphertext(new AttachmentsApi(api), ref, opts);
  for await (const plain of decryptAttachment(key, source, ref)) await sink.write(plain);
}

/** The ciphertext of `ref`, resumed with `Range` after each cut until all of it came. */
async function* ciphertext(
  rest: AttachmentsApi,
  ref: AttachmentRef,
  opts: DownloadOptions,
): AsyncGenerator<Uint8Array> {
  const total = attachmentCiphertextBytes(ref.size);
  const within = opts.resumeWithinMs ?? 60_000;
  let received = 0;
  let since = Date.now();
  let wait = 200;
  opts.onProgress?.({ done: 0, total });
  for (;;) {
    opts.signal?.throwIfAborted();
    try {
      const res = await rest.content(ref.id, received, opts.requestTimeoutMs ?? 600_000);
      if (received > 0 && res.status !== 206) {
        await res.body?.cancel();
        throw new Error(`attachment ${ref.id}: the api did not answer the Range request`);
      }
      if (!res.body) throw new TypeError('the download has no body');
      for await (const part of readStream(res.body)) {
        if (received + part.length > total) {
          throw new Error(`attachment ${ref.id} is longer than its message says`);
        }
        received += part.length;
        since = Date.now();
        wait = 200;
        opts.onProgress?.({ done: received, total });
        yield part;
      }
      if (received === total) return;
      // A body that ended early (the api went away): resume from here.
      throw new TypeError(`the download ended after ${received} of ${total} bytes`);
    } catch (err) {
      if (opts.signal?.aborted || !isTransient(err)) throw err;
      if (Date.now() - since > within) {
        throw new Error(`download gave up after ${within} ms without progress`, { cause: err });
      }
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, 5000);
    }
  }
}
