/**
 * The encrypted message that carries a file. The server never sees it: it travels as the
 * plaintext of an ordinary end-to-end encrypted `message`, and says where the file is
 * (its attachment id), how to open it (its key) and how to check it (digest and size).
 *
 * Plaintext layout: one byte 0xFF, then UTF-8 JSON
 * `{"v":1,"attachment":{id,key,digest,size,type,name,thumbnail?},"text"?}`. Text messages
 * are UTF-8, in which 0xFF never occurs, so the marker cannot be mistaken for (or forged
 * by typing) a text message.
 */
import { fromBase64, fromUtf8, messageBodyLength, utf8 } from '@gossip/crypto';
import { ATTACHMENT_ID_PATTERN, MAX_BODY_CHARS } from '@gossip/protocol';

/** The first plaintext byte of an attachment message (never part of UTF-8 text). */
export const ATTACHMENT_MESSAGE_MARKER = 0xff;

/** Largest thumbnail carried in the message (bytes of the image), so it fits one body. */
export const MAX_THUMBNAIL_BYTES = 24 * 1024;

/** Longest file name and media type kept (characters). */
export const MAX_ATTACHMENT_NAME_CHARS = 255;

/** Media types a thumbnail may have (shown inline by the web client). */
export const THUMBNAIL_TYPES = ['image/jpeg', 'image/png', 'image/webp'] as const;

/** A small preview image, encrypted along with the message. */
export interface Thumbnail {
  type: (typeof THUMBNAIL_TYPES)[number];
  /** The image bytes, standard base64. */
  data: string;
}

/** Everything the recipient needs to fetch, check and open one file. */
export interface AttachmentRef {
  /** The api's attachment id. */
  id: string;
  /** The file's AES-256-GCM key, base64url (43 characters). */
  key: string;
  /** SHA-256 of the whole ciphertext, base64url (43 characters). */
  digest: string;
  /** Plaintext bytes. */
  size: number;
  /** Media type as the sender declared it (not checked against the bytes). */
  type: string;
  /** File name as the sender gave it: untrusted, sanitise before using it as a path. */
  name: string;
  thumbnail?: Thumbnail;
}

/** The plaintext of a message carrying `attachment` (and an optional caption). */
export function encodeAttachmentMessage(attachment: AttachmentRef, text?: string): Uint8Array {
  checkAttachmentRef(attachment);
  const json = utf8(
    JSON.stringify(
      text === undefined || text === '' ? { v: 1, attachment } : { v: 1, attachment, text },
    ),
  );
  const out = new Uint8Array(json.length + 1);
  out[0] = ATTACHMENT_MESSAGE_MARKER;
  out.set(json, 1);
  if (messageBodyLength(out.length) > MAX_BODY_CHARS) {
    throw new Error('the attachment message is too long (thumbnail, name or caption too big)');
  }
  return out;
}

/**
 * The attachment a message's plaintext carries, or null for a text message. A message
 * with the marker but a malformed description throws (it is not shown as text either).
 */
export function parseAttachmentMessage(
  data: Uint8Array,
): { attachment: AttachmentRef; text: string } | null {
  if (data[0] !== ATTACHMENT_MESSAGE_MARKER) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(fromUtf8(data.subarray(1)));
  } catch (err) {
    throw new Error('attachment message is not JSON', { cause: err });
  }
  const o = parsed as { v?: unknown; attachment?: unknown; text?: unknown } | null;
  if (typeof o !== 'object' || o === null || o.v !== 1) {
    throw new Error('attachment message has an unknown version');
  }
  if (o.text !== undefined && typeof o.text !== 'string') {
    throw new Error('attachment message text must be a string');
  }
  const a = o.attachment as Record<string, unknown> | undefined;
  if (typeof a !== 'object' || a === null) throw new Error('attachment message has no attachment');
  const ref: AttachmentRef = {
    id: a.id as string,
    key: a.key as string,
    digest: a.digest as string,
    size: a.size as number,
    type: a.type as string,
    name: a.name as string,
  };
  if (a.thumbnail !== undefined) ref.thumbnail = a.thumbnail as Thumbnail;
  checkAttachmentRef(ref);
  return { attachment: ref, text: o.text ?? '' };
}

const B64URL_32 = /^[A-Za-z0-9_-]{43}$/;
const ID = new RegExp(ATTACHMENT_ID_PATTERN);

/** Throws a clear error for a description the SDK would not send or open. */
export function checkAttachmentRef(a: AttachmentRef): void {
  if (typeof a.id !== 'string' || !ID.test(a.id)) throw new Error('attachment id is malformed');
  if (typeof a.key !== 'string' || !B64URL_32.test(a.key)) {
    throw new Error('attachment key is malformed');
  }
  if (typeof a.digest !== 'string' || !B64URL_32.test(a.digest)) {
    throw new Error('attachment digest is malformed');
  }
  if (!Number.isSafeInteger(a.size) || a.size < 0) throw new Error('attachment size is malformed');
  for (const [field, value] of [
    ['type', a.type],
    ['name', a.name],
  ] as const) {
    if (typeof value !== 'string' || value.length > MAX_ATTACHMENT_NAME_CHARS) {
      throw new Error(
        `attachment ${field} must be a string of at most ${MAX_ATTACHMENT_NAME_CHARS} characters`,
      );
    }
  }
  const t = a.thumbnail;
  if (t !== undefined) {
    if (
      typeof t !== 'object' ||
      t === null ||
      !(THUMBNAIL_TYPES as readonly unknown[]).includes(t.type) ||
      typeof t.data !== 'string' ||
      fromBase64(t.data).length > MAX_THUMBNAIL_BYTES
    ) {
      throw new Error(
        `attachment thumbnail must be JPEG, PNG or WebP of at most ${MAX_THUMBNAIL_BYTES} bytes`,
      );
    }
  }
}
