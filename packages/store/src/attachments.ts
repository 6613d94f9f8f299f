/**
 * Attachment ciphertext in GridFS and its metadata document, shared by the api (which
 * writes and serves it) and the engine (which deletes it after acks or expiry).
 *
 * Each `PUT` part is one GridFS file. GridFS writes a file's chunks first and its `files`
 * document last, and a part counts only once the attachment's document lists it (a
 * conditional update on `received`), so a request cut half way leaves at most chunks
 * without a `files` document, or a file no attachment lists: {@link AttachmentBlobs.removeOrphans}
 * deletes both. Nothing needs a transaction (FerretDB has none).
 */
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { COLLECTIONS } from '@gossip/protocol';
import { GridFSBucket, ObjectId, type Collection, type Db } from 'mongodb';

/** One stored part: a GridFS file holding ciphertext bytes `offset` .. `offset + length - 1`. */
export interface AttachmentPart {
  fileId: ObjectId;
  offset: number;
  length: number;
}

/** An attachment's metadata (`attachments` collection). The server never sees names or keys. */
export interface AttachmentDoc {
  /** The attachment id (32 hex digits, chosen by the api). */
  _id: string;
  /** The uploader. */
  owner: string;
  /** Ciphertext bytes the upload will have. */
  size: number;
  /** Ciphertext bytes stored so far: the sum of `parts`' lengths. */
  received: number;
  /** The stored parts in order, each starting where the previous ended. */
  parts: AttachmentPart[];
  /** Who may download it besides the uploader (set at finish). */
  recipients: string[];
  /** Recipients that acked a message carrying it; deleted once all have. */
  ackedBy: string[];
  finished: boolean;
  /** Base64url SHA-256 of the ciphertext, checked at finish. */
  digest: string | null;
  createdAt: Date;
  finishedAt: Date | null;
}

/** A part's body was longer or shorter than its range said. */
export class PartLengthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PartLengthError';
  }
}

/** Counts bytes through; fails once more than `max` arrive. */
class ByteCounter extends Transform {
  count = 0;
  constructor(private readonly max: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.count += chunk.length;
    if (this.count > this.max) {
      done(new PartLengthError(`The body has more than the range's ${this.max} bytes.`));
    } else done(null, chunk);
  }
}

/** The GridFS bucket of attachment ciphertext. */
export class AttachmentBlobs {
  private readonly bucket: GridFSBucket;
  private readonly files: Collection<{ _id: ObjectId; uploadDate: Date }>;
  private readonly chunks: Collection<{ _id: ObjectId; files_id: ObjectId; n: number }>;

  constructor(db: Db) {
    const name = COLLECTIONS.attachmentBucket;
    this.bucket = new GridFSBucket(db, { bucketName: name });
    this.files = db.collection(`${name}.files`);
    this.chunks = db.collection(`${name}.chunks`);
  }

  /**
   * Streams exactly `length` bytes of `source` into a new GridFS file and returns its id.
   * Fewer bytes (the client went away) or more reject, and what was written is removed.
   */
  async writePart(
    attachment: string,
    offset: number,
    length: number,
    source: NodeJS.ReadableStream,
  ): Promise<ObjectId> {
    const fileId = new ObjectId();
    // The name is only for people reading the database: no file name ever reaches the server.
    const upload = this.bucket.openUploadStreamWithId(fileId, `${attachment}.${offset}`, {
      metadata: { attachment, offset },
    });
    const counter = new ByteCounter(length);
    const written = pipeline(source, counter, upload).then(() => {
      if (counter.count !== length) {
        throw new PartLengthError(`The body ended after ${counter.count} of ${length} bytes.`);
      }
    });
    try {
      await written;
      return fileId;
    } catch (err) {
      await upload.abort().catch(() => undefined);
      // abort() deletes the chunks; after a completed stream the files document exists too.
      await this.deleteFiles([fileId]);
      throw err;
    }
  }

  /** The ciphertext bytes `start` .. `end` (inclusive) of `parts`, in order, streamed. */
  read(parts: readonly AttachmentPart[], start: number, end: number): Readable {
    const bucket = this.bucket;
    async function* bytes(): AsyncGenerator<Buffer> {
      for (const p of parts) {
        const from = Math.max(start, p.offset);
        const to = Math.min(end, p.offset + p.length - 1);
        if (from > to) continue;
        const stream = bucket.openDownloadStream(p.fileId, {
          start: from - p.offset,
          end: to - p.offset + 1,
        });
        for await (const chunk of stream) yield chunk as Buffer;
      }
    }
    return Readable.from(bytes(), { objectMode: false });
  }

  /** Deletes GridFS files (chunks and `files` documents); missing ones are no error. */
  async deleteFiles(fileIds: readonly ObjectId[]): Promise<void> {
    if (fileIds.length === 0) return;
    await this.chunks.deleteMany({ files_id: { $in: [...fileIds] } });
    await this.files.deleteMany({ _id: { $in: [...fileIds] } });
  }

  /**
   * Deletes an attachment: its document first, so nobody can fetch it any more, then its
   * parts (a crash in between leaves unlisted files, which {@link removeOrphans} takes).
   * Returns whether this call deleted the document.
   */
  async deleteAttachment(
    coll: Collection<AttachmentDoc>,
    doc: Pick<AttachmentDoc, '_id' | 'parts'>,
  ): Promise<boolean> {
    const { deletedCount } = await coll.deleteOne({ _id: doc._id });
    await this.deleteFiles(doc.parts.map((p) => p.fileId));
    return deletedCount > 0;
  }

  /**
   * Removes what cut or crashed uploads left behind, older than `before` (so an upload in
   * flight is never touched): chunks whose file has no `files` document, and files no
   * attachment lists. Returns how many GridFS files were removed.
   */
  async removeOrphans(coll: Collection<AttachmentDoc>, before: Date): Promise<number> {
    const old = { $lt: ObjectId.createFromTime(Math.floor(before.getTime() / 1000)) };
    const orphans: ObjectId[] = [];
    // Every part has a chunk 0 (parts are never empty), whose `files_id` dates the part.
    const firsts = this.chunks.find({ n: 0, files_id: old }, { projection: { files_id: 1 } });
    for await (const ch of firsts) {
      const file = await this.files.findOne({ _id: ch.files_id }, { projection: { _id: 1 } });
      if (!file) orphans.push(ch.files_id);
    }
    const files = this.files.find(
      { _id: old },
      { projection: { _id: 1, 'metadata.attachment': 1 } },
    );
    for await (const f of files) {
      const attachment = (f as { metadata?: { attachment?: unknown } }).metadata?.attachment;
      const owner =
        typeof attachment === 'string'
          ? await coll.findOne({ _id: attachment }, { projection: { parts: 1 } })
          : null;
      if (!owner?.parts.some((p) => p.fileId.equals(f._id))) orphans.push(f._id);
    }
    await this.deleteFiles(orphans);
    return orphans.length;
  }
}
