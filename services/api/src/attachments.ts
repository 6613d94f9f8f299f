/**
 * Encrypted attachments, server side: uploads in parts (resumable from `received`),
 * finish (digest and recipients), status, streamed downloads with ranges, withdrawal.
 * The server holds ciphertext only and never a whole file in memory: parts stream into
 * GridFS (see @gossip/store's AttachmentBlobs) and downloads stream out of it.
 *
 * Documents are read by `_id` alone and the caller checked on the document (FerretDB
 * scans the collection for any other filter); a part counts only once the conditional
 * update on `received` lists it, so two racing parts cannot both land.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  MAX_ATTACHMENT_PART_BYTES,
  MIN_ATTACHMENT_PART_BYTES,
  type AttachmentFinish,
  type AttachmentRefusalReason,
  type AttachmentStatus,
  type ErrorCode,
} from '@gossip/protocol';
import {
  PartLengthError,
  sendDecision,
  type AttachmentBlobs,
  type AttachmentDoc,
} from '@gossip/store';
import type { AttachmentConfig } from './config.js';
import { ApiError } from './errors.js';
import type { ApiMetrics } from './metrics.js';
import { parseContentRange, parseRange, type ByteRange } from './ranges.js';
import type { Collections } from './store.js';

/** A download ready to stream: status, the range served and the bytes. */
export interface Download {
  status: 200 | 206;
  range: ByteRange;
  size: number;
  body: Readable;
}

/** A `Range` outside the file: a 416 whose `Content-Range` gives the size (RFC 9110 §14.4). */
export class RangeNotSatisfiableError extends ApiError {
  constructor(readonly size: number) {
    super('range_not_satisfiable');
  }
}

export class AttachmentService {
  constructor(
    private readonly c: Collections,
    private readonly blobs: AttachmentBlobs,
    private readonly cfg: AttachmentConfig,
    private readonly metrics: ApiMetrics,
    private readonly now: () => number,
  ) {}

  /** An error counted under `reason` in `gossip_attachments_refused_total`. */
  private refuse(reason: AttachmentRefusalReason, code: ErrorCode, message?: string): ApiError {
    this.metrics.attachmentRefused.inc({ reason });
    return new ApiError(code, message);
  }

  private view(doc: AttachmentDoc): AttachmentStatus {
    const expires = doc.finishedAt
      ? doc.finishedAt.getTime() + this.cfg.retentionSeconds * 1000
      : doc.createdAt.getTime() + this.cfg.uploadTimeoutSeconds * 1000;
    return {
      id: doc._id,
      size: doc.size,
      received: doc.received,
      finished: doc.finished,
      expiresAt: new Date(expires).toISOString(),
    };
  }

  /** The document if `user` uploaded it, else a 404 (existence is not revealed). */
  private async own(user: string, id: string): Promise<AttachmentDoc> {
    const doc = await this.c.attachments.findOne({ _id: id });
    if (!doc || doc.owner !== user) throw this.refuse('not_found', 'not_found');
    return doc;
  }

  /** The document if `user` may read it: the uploader, or a named recipient once finished. */
  private async readable(user: string, id: string): Promise<AttachmentDoc> {
    const doc = await this.c.attachments.findOne({ _id: id });
    const allowed = doc && (doc.owner === user || (doc.finished && doc.recipients.includes(user)));
    if (!allowed) throw this.refuse('not_found', 'not_found');
    return doc;
  }

  private async usedBytes(owner: string): Promise<number> {
    let used = 0;
    const docs = this.c.attachments.find({ owner }, { projection: { size: 1 } });
    for await (const d of docs) used += d.size;
    return used;
  }

  /** Starts an upload of `size` ciphertext bytes, within the size limit and the quota. */
  async create(owner: string, size: number): Promise<AttachmentStatus> {
    if (size > this.cfg.maxCiphertextBytes) {
      throw this.refuse(
        'too_large',
        'attachment_too_large',
        `An attachment may have at most ${this.cfg.maxCiphertextBytes} ciphertext bytes.`,
      );
    }
    if ((await this.usedBytes(owner)) + size > this.cfg.quotaBytes) {
      throw this.refuse('quota', 'attachment_quota_exceeded');
    }
    const doc: AttachmentDoc = {
      _id: randomBytes(16).toString('hex'),
      owner,
      size,
      received: 0,
      parts: [],
      recipients: [],
      ackedBy: [],
      finished: false,
      digest: null,
      createdAt: new Date(this.now()),
      finishedAt: null,
    };
    await this.c.attachments.insertOne(doc);
    // Two creates at once may both have passed the check: counted again with this one
    // stored, at least one of them sees the total and withdraws.
    if ((await this.usedBytes(owner)) > this.cfg.quotaBytes) {
      await this.c.attachments.deleteOne({ _id: doc._id });
      throw this.refuse('quota', 'attachment_quota_exceeded');
    }
    return this.view(doc);
  }

  async status(user: string, id: string): Promise<AttachmentStatus> {
    return this.view(await this.readable(user, id));
  }

  /**
   * Stores one part from `body` (`Content-Range` START-END/TOTAL, START = `received`). A
   * part that does not arrive whole is not stored; the client resumes from `received`.
   */
  async putPart(
    owner: string,
    id: string,
    contentRange: string | undefined,
    contentLength: string | undefined,
    body: NodeJS.ReadableStream,
  ): Promise<AttachmentStatus> {
    const doc = await this.own(owner, id);
    if (doc.finished) throw new ApiError('attachment_finished');
    const r = parseContentRange(contentRange);
    if (!r || r.total !== doc.size) {
      throw new ApiError(
        'validation_failed',
        `Content-Range must be "bytes START-END/${doc.size}" (END inclusive).`,
      );
    }
    if (r.end >= doc.size) throw new ApiError('range_not_satisfiable');
    const length = r.end - r.start + 1;
    if (length > MAX_ATTACHMENT_PART_BYTES) {
      throw new ApiError(
        'payload_too_large',
        `A part may have at most ${MAX_ATTACHMENT_PART_BYTES} bytes.`,
      );
    }
    if (r.start !== doc.received) {
      throw this.refuse(
        'offset',
        'attachment_offset_mismatch',
        `The next part starts at byte ${doc.received}.`,
      );
    }
    if (length < MIN_ATTACHMENT_PART_BYTES && r.end !== doc.size - 1) {
      throw new ApiError(
        'validation_failed',
        `A part other than the last must have at least ${MIN_ATTACHMENT_PART_BYTES} bytes.`,
      );
    }
    if (contentLength !== undefined && Number(contentLength) !== length) {
      throw new ApiError('validation_failed', `Content-Length must be ${length}, as the range.`);
    }
    let fileId;
    try {
      fileId = await this.blobs.writePart(id, r.start, length, body);
    } catch (err) {
      if (err instanceof PartLengthError) {
        throw new ApiError('validation_failed', err.message, { cause: err });
      }
      throw err;
    }
    const { matchedCount } = await this.c.attachments.updateOne(
      { _id: id, received: r.start, finished: false },
      {
        $set: { received: r.end + 1 },
        $push: { parts: { fileId, offset: r.start, length } },
      },
    );
    if (matchedCount === 0) {
      // Another part got there first, or the upload was withdrawn meanwhile.
      await this.blobs.deleteFiles([fileId]);
      throw this.refuse('offset', 'attachment_offset_mismatch');
    }
    this.metrics.attachmentUploadedBytes.inc(length);
    return this.view({ ...doc, received: r.end + 1 });
  }

  /** The base64url SHA-256 of the stored ciphertext, read back from GridFS. */
  private async storedDigest(doc: AttachmentDoc): Promise<string> {
    const hash = createHash('sha256');
    await pipeline(this.blobs.read(doc.parts, 0, doc.size - 1), hash);
    return hash.digest('base64url');
  }

  /**
   * Checks the digest and the recipients (accepted contacts) and makes the upload
   * downloadable to them. A mismatching digest deletes the upload. Finishing again with
   * the same digest answers the same status (a retry after a lost answer).
   */
  async finish(owner: string, id: string, req: AttachmentFinish): Promise<AttachmentStatus> {
    const doc = await this.own(owner, id);
    if (doc.finished) {
      if (doc.digest === req.digest) return this.view(doc);
      throw new ApiError('attachment_finished');
    }
    if (doc.received < doc.size) throw new ApiError('attachment_incomplete');
    for (const to of req.recipients) {
      if ((await sendDecision(this.c, owner, to)) !== 'ok') {
        throw new ApiError('not_contact', `${to} is not an accepted contact of yours.`);
      }
    }
    if ((await this.storedDigest(doc)) !== req.digest) {
      await this.blobs.deleteAttachment(this.c.attachments, doc);
      throw this.refuse('digest', 'attachment_digest_mismatch');
    }
    const finishedAt = new Date(this.now());
    const fields = { finished: true, digest: req.digest, recipients: req.recipients, finishedAt };
    const { matchedCount } = await this.c.attachments.updateOne(
      { _id: id, finished: false },
      { $set: fields },
    );
    if (matchedCount === 0) return this.status(owner, id);
    this.metrics.attachmentUploads.inc();
    return this.view({ ...doc, ...fields });
  }

  /** The ciphertext (or the part `Range` asks for) for the uploader or a named recipient. */
  async download(user: string, id: string, rangeHeader: string | undefined): Promise<Download> {
    const doc = await this.readable(user, id);
    if (!doc.finished) throw this.refuse('not_found', 'not_found');
    const asked = parseRange(rangeHeader, doc.size);
    if (asked === 'unsatisfiable') throw new RangeNotSatisfiableError(doc.size);
    const { range, partial } = asked;
    const metrics = this.metrics;
    const counted = new Transform({
      transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
        metrics.attachmentDownloadedBytes.inc(chunk.length);
        done(null, chunk);
      },
      flush(done: TransformCallback) {
        metrics.attachmentDownloads.inc();
        done();
      },
    });
    const source = this.blobs.read(doc.parts, range.start, range.end);
    source.once('error', (err) => counted.destroy(err));
    return { status: partial ? 206 : 200, range, size: doc.size, body: source.pipe(counted) };
  }

  /** Deletes every attachment `owner` uploaded (account deletion). */
  async deleteAllOf(owner: string): Promise<void> {
    const docs = this.c.attachments.find({ owner }, { projection: { _id: 1, parts: 1 } });
    for await (const doc of docs) await this.blobs.deleteAttachment(this.c.attachments, doc);
  }

  /** The uploader withdraws an attachment (finished or not). */
  async withdraw(owner: string, id: string): Promise<void> {
    const doc = await this.own(owner, id);
    await this.blobs.deleteAttachment(this.c.attachments, doc);
  }
}
