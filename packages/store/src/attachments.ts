/**
 * Attachment ciphertext in GridFS and its metadata document, shared by the api (which
 * writes and serves it) and the engine (which deletes it after acks or expiry).
 *
 * Each `PUT` part is one GridFS file. GridFS writes a file's chunks first and its `files`
 * document last, and a part counts only once the attachment's document lists it (a
 * conditional update on `received`), so a request cut half way leaves at most chunks
 * without a `files` document, or a file no attachment lists: {@link AttachmentBlobs.removeOrphans}
 * deletes both. Nothing needs a transaction (FerretDB has none).
 *
 * The parts are written here rather than by `GridFSBucket.openUploadStream`, in the same
 * GridFS layout (any GridFSBucket reads them), plus the chunks' `_id`s in the `files`
 * document's `metadata.chunkIds`: reading a part then looks each chunk up by `_id`.
 * GridFSBucket finds a file's chunks by `files_id`, which FerretDB 1.24's SQLite backend
 * answers by scanning the whole chunks collection (it pushes down only `_id` equality):
 * with 25 MiB stored, one 1 MiB part took 4.3 s that way and 0.3 s by `_id`
 * (services/api/bench/gridfs-read.bench.ts, load average 25 on 2 cores), and every read
 * got slower with each file stored. A part without `chunkIds` is read through GridFSBucket.
 */
import { Readable, Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { COLLECTIONS } from '@gossip/protocol';
import { Binary, GridFSBucket, ObjectId, type Collection, type Db } from 'mongodb';

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

/** GridFS's default chunk size (255 KiB), as GridFSBucket writes. */
const GRIDFS_CHUNK_BYTES = 255 * 1024;

/** A GridFS `files` document as this module writes it. */
interface FileDoc {
  _id: ObjectId;
  length: number;
  chunkSize: number;
  uploadDate: Date;
  filename: string;
  metadata?: { attachment?: string; offset?: number; chunkIds?: ObjectId[] };
}

/** A GridFS chunk document. */
interface ChunkDoc {
  _id: ObjectId;
  files_id: ObjectId;
  n: number;
  data: Binary;
}

/** Cuts what is written into GridFS chunks of `chunkSize` and inserts each, in order. */
class ChunkWriter extends Writable {
  readonly ids: ObjectId[] = [];
  private held: Buffer[] = [];
  private heldBytes = 0;

  constructor(
    private readonly chunks: Collection<ChunkDoc>,
    private readonly fileId: ObjectId,
    private readonly chunkSize: number,
  ) {
    super();
  }

  override _write(piece: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.held.push(piece);
    this.heldBytes += piece.length;
    this.flush(false).then(() => done(), done);
  }

  override _final(done: (err?: Error | null) => void): void {
    this.flush(true).then(() => done(), done);
  }

  /** Inserts every full chunk held (and with `all`, the rest as the last one). */
  private async flush(all: boolean): Promise<void> {
    while (this.heldBytes >= this.chunkSize || (all && this.heldBytes > 0)) {
      const joined = Buffer.concat(this.held);
      const data = joined.subarray(0, this.chunkSize);
      const rest = joined.subarray(data.length);
      this.held = rest.length > 0 ? [rest] : [];
      this.heldBytes = rest.length;
      const _id = new ObjectId();
      await this.chunks.insertOne({
        _id,
        files_id: this.fileId,
        n: this.ids.length,
        data: new Binary(data),
      });
      this.ids.push(_id);
    }
  }
}

/** The GridFS bucket of attachment ciphertext. */
export class AttachmentBlobs {
  private readonly bucket: GridFSBucket;
  private readonly files: Collection<FileDoc>;
  private readonly chunks: Collection<ChunkDoc>;
  /** The indexes GridFSBucket makes before its first upload, made once here too. */
  private indexed: Promise<unknown> | undefined;

  constructor(db: Db) {
    const name = COLLECTIONS.attachmentBucket;
    this.bucket = new GridFSBucket(db, { bucketName: name });
    this.files = db.collection(`${name}.files`);
    this.chunks = db.collection(`${name}.chunks`);
  }

  /**
   * Streams exactly `length` bytes of `source` into a new GridFS file and returns its id.
   * Fewer bytes (the client went away) or more reject, and what was written is removed.
   * The `files` document, written last, lists the chunks' `_id`s.
   */
  async writePart(
    attachment: string,
    offset: number,
    length: number,
    source: NodeJS.ReadableStream,
  ): Promise<ObjectId> {
    this.indexed ??= Promise.all([
      this.chunks.createIndex({ files_id: 1, n: 1 }, { unique: true }),
      this.files.createIndex({ filename: 1, uploadDate: 1 }),
    ]).catch((err: unknown) => {
      this.indexed = undefined;
      throw err;
    });
    await this.indexed;
    const fileId = new ObjectId();
    const counter = new ByteCounter(length);
    const writer = new ChunkWriter(this.chunks, fileId, GRIDFS_CHUNK_BYTES);
    try {
      await pipeline(source, counter, writer);
      if (counter.count !== length) {
        throw new PartLengthError(`The body ended after ${counter.count} of ${length} bytes.`);
      }
      await this.files.insertOne({
        _id: fileId,
        length,
        chunkSize: GRIDFS_CHUNK_BYTES,
        uploadDate: new Date(),
        // Only for people reading the database: no file name ever reaches the server.
        filename: `${attachment}.${offset}`,
        metadata: { attachment, offset, chunkIds: writer.ids },
      });
      return fileId;
    } catch (err) {
      await this.deleteFiles([fileId]).catch(() => undefined);
      throw err;
    }
  }

  /** The ciphertext bytes `start` .. `end` (inclusive) of `parts`, in order, streamed. */
  read(parts: readonly AttachmentPart[], start: number, end: number): Readable {
    const readPart = this.readPart.bind(this);
    async function* bytes(): AsyncGenerator<Buffer> {
      for (const p of parts) {
        const from = Math.max(start, p.offset);
        const to = Math.min(end, p.offset + p.length - 1);
        if (from > to) continue;
        yield* readPart(p.fileId, from - p.offset, to - p.offset);
      }
    }
    return Readable.from(bytes(), { objectMode: false });
  }

  /** Bytes `from` .. `to` (inclusive) of one GridFS file, its chunks looked up by `_id`. */
  private async *readPart(fileId: ObjectId, from: number, to: number): AsyncGenerator<Buffer> {
    const file = await this.files.findOne({ _id: fileId });
    const ids = file?.metadata?.chunkIds;
    if (!file || !Array.isArray(ids)) {
      // Written by GridFSBucket (or missing: it throws FileNotFound).
      const stream = this.bucket.openDownloadStream(fileId, { start: from, end: to + 1 });
      for await (const chunk of stream) yield chunk as Buffer;
      return;
    }
    const size = file.chunkSize;
    const last = Math.ceil(file.length / size) - 1;
    if (to >= file.length || ids.length !== last + 1) {
      throw new Error(`GridFS file ${fileId.toHexString()} does not hold bytes ${from}-${to}`);
    }
    for (let n = Math.floor(from / size); n <= Math.floor(to / size); n++) {
      const chunk = await this.chunks.findOne({ _id: ids[n] });
      const want = n < last ? size : file.length - n * size;
      const data = chunk?.data.buffer;
      if (!chunk || !chunk.files_id.equals(fileId) || chunk.n !== n || data?.length !== want) {
        throw new Error(`GridFS file ${fileId.toHexString()}: chunk ${n} is missing or cut`);
      }
      const at = n * size;
      yield Buffer.from(data.buffer, data.byteOffset, data.length).subarray(
        Math.max(0, from - at),
        Math.min(data.length, to - at + 1),
      );
    }
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
