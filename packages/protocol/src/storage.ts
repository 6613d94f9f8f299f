/**
 * Names shared by the services that touch the same MongoDB database and Redis. The api
 * writes users, keys, contacts and contact events; the engine owns `messages`; the api
 * deletes a user's pending messages when the account is deleted.
 */
import type { ContactEventName, ContactFrame } from './frames.js';

export const COLLECTIONS = {
  users: 'users',
  refreshTokens: 'refresh_tokens',
  contacts: 'contacts',
  /** Contact notifications waiting for their recipient's `ack` (see {@link EventDoc}). */
  events: 'events',
  /** Stored messages (engine): documents have at least `_id` (message id), `to`, `from`. */
  messages: 'messages',
  /** Pending `delivered` receipts (engine): at least `_id`, `to` (sender), `from` (recipient). */
  receipts: 'receipts',
  /** GridFS bucket name for avatars (`avatars.files`, `avatars.chunks`). */
  avatarBucket: 'avatars',
  /**
   * Attachment metadata (api writes, engine deletes after acks or expiry): `_id` is the
   * attachment id; see @gossip/store's AttachmentDoc.
   */
  attachments: 'attachments',
  /**
   * GridFS bucket of attachment ciphertext (`attachment_blobs.files`, `.chunks`): one
   * GridFS file per uploaded part, listed in order by the attachment's document.
   */
  attachmentBucket: 'attachment_blobs',
  /**
   * One-time X25519 prekeys (api): `_id` = `owner:id`, `owner`, `id`, `publicKey`,
   * `keyVersion`; each deleted as a bundle hands it out (issue 16).
   */
  prekeys: 'prekeys',
} as const;

/**
 * A pending contact notification in the `events` collection. It reaches `to` as a
 * `contact` frame (ContactFrame fields: `id` = `_id`, `at` = `at.getTime()`): pushed live by
 * the api through Redis (the gateway relays it) when `to` is online, replayed by the engine
 * when `to` connects, and deleted by the engine when `to` acks its id (only `to` may).
 */
export interface EventDoc {
  _id: string;
  to: string;
  from: string;
  event: ContactEventName;
  at: Date;
  keyVersion?: number;
  body?: string;
}

/** The `contact` frame a client gets for a stored event: the api's push and the engine's replay. */
export function contactFrameOf(doc: EventDoc): ContactFrame {
  const frame: ContactFrame = {
    type: 'contact',
    id: doc._id,
    event: doc.event,
    from: doc.from,
    at: doc.at.getTime(),
  };
  if (doc.keyVersion !== undefined) frame.keyVersion = doc.keyVersion;
  if (doc.body !== undefined) frame.body = doc.body;
  return frame;
}

/**
 * Redis pub/sub channel (after the deployment's key prefix, `gossip:` by default) on which
 * the api publishes each new event as JSON `{ to, frame }` (frame: a `contact` frame), so a
 * gateway holding `to`'s connection can push it at once. The MongoDB document is the
 * durable copy; the publish is only a nudge.
 */
export const EVENTS_CHANNEL = 'events';

/** The deployment's default Redis key prefix (every key and channel above starts with it). */
export const DEFAULT_REDIS_PREFIX = 'gossip:';

/** The deployment's default MongoDB database. */
export const DEFAULT_MONGO_DB = 'gossip';

/**
 * Presence hash of `username` (after the prefix): fields are the gateway instances holding
 * one of its connections, values the time (ms) until which that claim holds. Gateways write
 * it, engines read it.
 */
export function presenceKey(username: string): string {
  return `presence:${username}`;
}

/** Hash (after the prefix) of a user's open connections per gateway, for the per-user cap. */
export function userConnsKey(username: string): string {
  return `userconns:${username}`;
}

/** Key (after the prefix) of one api rate-limit bucket: limit `name`, hashed `subject`. */
export function rateLimitKey(name: string, subject: string): string {
  return `rl:${name}:${subject}`;
}
