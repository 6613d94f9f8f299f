/**
 * Encrypted attachments: the chunk format both ends agree on, the limits, and the REST
 * bodies of the api's attachment routes. The client encrypts a file in chunks (the
 * encryption is packages/crypto's); the server only ever sees ciphertext bytes and their
 * count, so every size here that the server checks is a ciphertext size.
 */
import { Type, type Static } from '@sinclair/typebox';
import { IsoTime, Username } from './primitives.js';

/** Plaintext bytes per encrypted chunk (the last chunk may be shorter, even empty). */
export const ATTACHMENT_CHUNK_BYTES = 65_536;

/** Bytes the AES-GCM tag adds to each chunk. */
export const ATTACHMENT_TAG_BYTES = 16;

/** Default largest attachment, in plaintext bytes (the api's `API_ATTACHMENT_MAX_BYTES`). */
export const DEFAULT_ATTACHMENT_MAX_BYTES = 25 * 1024 * 1024;

/**
 * Default per-user quota, in ciphertext bytes of everything the user has stored or is
 * uploading (the api's `API_ATTACHMENT_QUOTA_BYTES`).
 */
export const DEFAULT_ATTACHMENT_QUOTA_BYTES = 250 * 1024 * 1024;

/** Default lifetime of a finished attachment nobody acked (seconds), like messages. */
export const DEFAULT_ATTACHMENT_RETENTION_SECONDS = 604_800;

/** Default time an upload may take from creation to finish before it is removed (seconds). */
export const DEFAULT_ATTACHMENT_UPLOAD_TIMEOUT_SECONDS = 3600;

/**
 * Largest body of one `PUT .../content` request. A client sends a file in parts of at most
 * this size; a part cut half way is stored not at all, so a smaller part loses less.
 */
export const MAX_ATTACHMENT_PART_BYTES = 8 * 1024 * 1024;

/**
 * Smallest part, except the one that ends the upload: each part is stored as one GridFS
 * file, so tiny parts would make a file of thousands of pieces.
 */
export const MIN_ATTACHMENT_PART_BYTES = ATTACHMENT_CHUNK_BYTES;

/** Most recipients an uploader may name when finishing an upload. */
export const MAX_ATTACHMENT_RECIPIENTS = 32;

/** Most attachments one `send` frame may reference. */
export const MAX_ATTACHMENTS_PER_MESSAGE = 4;

/**
 * Ciphertext size of a file of `plainBytes` bytes: each chunk carries a tag and every
 * file, even an empty one, has at least one chunk.
 */
export function attachmentCiphertextBytes(plainBytes: number): number {
  const chunks = Math.max(1, Math.ceil(plainBytes / ATTACHMENT_CHUNK_BYTES));
  return plainBytes + ATTACHMENT_TAG_BYTES * chunks;
}

/** Pattern of an attachment id: 32 lowercase hex digits (128 random bits, chosen by the api). */
export const ATTACHMENT_ID_PATTERN = '^[0-9a-f]{32}$';

export const AttachmentId = Type.String({
  pattern: ATTACHMENT_ID_PATTERN,
  description: 'An attachment, named by the api when the upload is created (128 random bits).',
});
export type AttachmentId = Static<typeof AttachmentId>;

/** Base64url (no padding) SHA-256: 43 characters. */
export const AttachmentDigest = Type.String({
  pattern: '^[A-Za-z0-9_-]{43}$',
  description: 'SHA-256 of the whole ciphertext, base64url without padding.',
});

const strict = { additionalProperties: false } as const;

/** `POST /v1/attachments`: start an upload of `size` ciphertext bytes. */
export const AttachmentCreate = Type.Object(
  {
    size: Type.Integer({
      minimum: ATTACHMENT_TAG_BYTES,
      description:
        'Ciphertext bytes (attachmentCiphertextBytes of the plaintext size); at least one ' +
        'tag, since an empty file is one empty chunk.',
    }),
  },
  strict,
);
export type AttachmentCreate = Static<typeof AttachmentCreate>;

/** What the api says about an attachment (create, status, each part, finish). */
export const AttachmentStatus = Type.Object({
  id: AttachmentId,
  size: Type.Integer({ minimum: 0, description: 'Ciphertext bytes.' }),
  received: Type.Integer({
    minimum: 0,
    description: 'Ciphertext bytes safely stored: the next part starts here.',
  }),
  finished: Type.Boolean(),
  expiresAt: IsoTime,
});
export type AttachmentStatus = Static<typeof AttachmentStatus>;

/** `POST /v1/attachments/:id/finish`. */
export const AttachmentFinish = Type.Object(
  {
    digest: AttachmentDigest,
    recipients: Type.Array(Username, {
      minItems: 1,
      maxItems: MAX_ATTACHMENT_RECIPIENTS,
      uniqueItems: true,
      description: 'Accepted contacts of the uploader who may download it (besides the uploader).',
    }),
  },
  strict,
);
export type AttachmentFinish = Static<typeof AttachmentFinish>;

export const AttachmentParams = Type.Object({ id: AttachmentId }, strict);
export type AttachmentParams = Static<typeof AttachmentParams>;

/** The `Content-Range` header of a part: bytes `start` to `end` inclusive of `total`. */
export function attachmentContentRange(start: number, end: number, total: number): string {
  return `bytes ${start}-${end}/${total}`;
}

/** Fills `:id` in one of the attachment paths of API_PATHS. */
export function attachmentPath(path: string, id: string): string {
  return path.replace(':id', encodeURIComponent(id));
}
