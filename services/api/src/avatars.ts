/**
 * Avatar images in GridFS (bucket `avatars`). Types are recognised by their magic bytes;
 * the declared Content-Type must agree, so a file is never served under a type it isn't.
 */
import { COLLECTIONS } from '@gossip/protocol';
import { GridFSBucket, ObjectId, type Db } from 'mongodb';

/** The image type of `bytes` from its signature, or null. */
export function sniffImageType(
  bytes: Uint8Array,
): 'image/png' | 'image/jpeg' | 'image/webp' | null {
  const b = (i: number): number | undefined => bytes[i];
  if (
    bytes.length >= 8 &&
    [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a].every((v, i) => b(i) === v)
  ) {
    return 'image/png';
  }
  if (bytes.length >= 3 && b(0) === 0xff && b(1) === 0xd8 && b(2) === 0xff) return 'image/jpeg';
  const ascii = (from: number, to: number): string =>
    String.fromCharCode(...bytes.subarray(from, to));
  if (bytes.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'image/webp';
  return null;
}

export class AvatarStore {
  private readonly bucket: GridFSBucket;

  constructor(db: Db) {
    this.bucket = new GridFSBucket(db, { bucketName: COLLECTIONS.avatarBucket });
  }

  /** Stores an image and returns its file id (hex). */
  async put(owner: string, contentType: string, bytes: Buffer): Promise<string> {
    const id = new ObjectId();
    await new Promise<void>((resolve, reject) => {
      const up = this.bucket.openUploadStreamWithId(id, owner, {
        metadata: { owner, contentType },
      });
      up.once('error', reject);
      up.once('finish', () => resolve());
      up.end(bytes);
    });
    return id.toHexString();
  }

  /** Reads a whole image (they are small). */
  async get(fileId: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of this.bucket.openDownloadStream(new ObjectId(fileId))) {
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  /** Deletes an image; a missing one is not an error. */
  async delete(fileId: string): Promise<void> {
    try {
      await this.bucket.delete(new ObjectId(fileId));
    } catch (err) {
      if (!(err instanceof Error && /not found/i.test(err.message))) throw err;
    }
  }

  /** Deletes every image of `owner` (including ones orphaned by a crash mid-replace). */
  async deleteAllOf(owner: string): Promise<void> {
    const files = await this.bucket.find({ 'metadata.owner': owner }).toArray();
    for (const f of files) await this.delete(f._id.toHexString());
  }
}
