/**
 * The api's attachment routes, over the `ApiClient` (so the access token is sent and
 * refreshed like every other call): create an upload, read its status, send a part,
 * finish, withdraw, and open the content (optionally from an offset) as a stream.
 */
import {
  API_PATHS,
  attachmentContentRange,
  attachmentPath,
  type AttachmentFinish,
  type AttachmentStatus,
} from '@gossip/protocol';
import type { ApiClient } from '../api.js';

/** A part may take a while on a slow link; a cut one is resumed, so this is only a backstop. */
const PART_TIMEOUT_MS = 120_000;
/** The api reads the whole upload back to check its digest before it answers a finish. */
const FINISH_TIMEOUT_MS = 600_000;

/** Typed calls to `/v1/attachments`. */
export class AttachmentsApi {
  constructor(private readonly api: ApiClient) {}

  /** Starts an upload of `size` ciphertext bytes. */
  create(size: number): Promise<AttachmentStatus> {
    return this.api.request<AttachmentStatus>(API_PATHS.attachments, {
      method: 'POST',
      body: { size },
    });
  }

  /** The upload's state; `received` is where the next part starts. */
  status(id: string): Promise<AttachmentStatus> {
    return this.api.request<AttachmentStatus>(attachmentPath(API_PATHS.attachment, id));
  }

  /** Sends ciphertext bytes `start`..`start + data.length - 1` of `total`. */
  putPart(id: string, start: number, data: Uint8Array, total: number): Promise<AttachmentStatus> {
    return this.api.request<AttachmentStatus>(attachmentPath(API_PATHS.attachmentContent, id), {
      method: 'PUT',
      raw: { data, contentType: 'application/octet-stream' },
      headers: { 'content-range': attachmentContentRange(start, start + data.length - 1, total) },
      timeoutMs: PART_TIMEOUT_MS,
    });
  }

  /**
   * Ends the upload: the api checks the digest by reading the whole ciphertext back, which
   * for 25 MiB took over 15 s on the loaded test machine and over 120 s at a load average
   * of 14 on 2 cores, hence a long backstop.
   */
  finish(id: string, body: AttachmentFinish): Promise<AttachmentStatus> {
    return this.api.request<AttachmentStatus>(attachmentPath(API_PATHS.attachmentFinish, id), {
      method: 'POST',
      body,
      timeoutMs: FINISH_TIMEOUT_MS,
    });
  }

  /** Withdraws an upload (finished or not). */
  async remove(id: string): Promise<void> {
    await this.api.request<unknown>(attachmentPath(API_PATHS.attachment, id), {
      method: 'DELETE',
    });
  }

  /**
   * The ciphertext from byte `from` on, as an unread `Response` (200 for the whole, 206 for
   * a range). `timeoutMs` bounds the whole transfer; a cut one is resumed by the caller.
   */
  content(id: string, from: number, timeoutMs: number): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/octet-stream' };
    if (from > 0) headers.range = `bytes=${from}-`;
    return this.api.request<Response>(attachmentPath(API_PATHS.attachmentContent, id), {
      headers,
      response: true,
      timeoutMs,
    });
  }
}
