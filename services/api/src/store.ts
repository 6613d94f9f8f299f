/**
 * Documents the api keeps in MongoDB and the indexes it needs. FerretDB (MongoDB's wire
 * protocol over SQLite) stands in for MongoDB in tests, so nothing here relies on
 * transactions; multi-document changes are ordered so a crash leaves a state the next
 * request can repair or that is harmless (see contacts.ts).
 */
import {
  COLLECTIONS,
  type ContactDoc,
  type EventDoc,
  type KeyChainStep,
  type PublicKeys,
} from '@gossip/protocol';
import { ensureIndex } from '@gossip/servicekit';
import type { Db } from 'mongodb';
import type { RefreshTokenDoc } from './tokens.js';

export interface AvatarRef {
  fileId: string;
  contentType: string;
  size: number;
}

/** One account. `_id` is the username, so uniqueness needs no extra index. */
export interface UserDoc {
  _id: string;
  /** Random id fixed at registration; access tokens carry it. */
  uid: string;
  /** scrypt hash (passwords.ts); never the password. */
  passwordHash: string;
  displayName: string | null;
  keys: PublicKeys;
  keyVersion: number;
  fingerprint: string;
  keysUpdatedAt: Date;
  /**
   * The latest key changes, oldest first, at most `MAX_KEY_CHAIN`: each with the proof
   * (signature by the previous signing key) or null for an unsigned reset. Absent on
   * accounts that never changed keys.
   */
  keyChain?: KeyChainStep[];
  avatar: AvatarRef | null;
  createdAt: Date;
}

/** Typed handles on the collections. */
export function collections(db: Db) {
  return {
    users: db.collection<UserDoc>(COLLECTIONS.users),
    contacts: db.collection<ContactDoc>(COLLECTIONS.contacts),
    events: db.collection<EventDoc>(COLLECTIONS.events),
    refreshTokens: db.collection<RefreshTokenDoc>(COLLECTIONS.refreshTokens),
    messages: db.collection<{ _id: string; to: string; from: string }>(COLLECTIONS.messages),
    receipts: db.collection<{ _id: string; to: string; from: string }>(COLLECTIONS.receipts),
  };
}
export type Collections = ReturnType<typeof collections>;

/** Creates the api's indexes (idempotent). */
export async function ensureIndexes(db: Db): Promise<void> {
  const c = collections(db);
  await ensureIndex(c.contacts, { owner: 1 });
  await ensureIndex(c.contacts, { peer: 1 });
  await ensureIndex(c.events, { to: 1, at: 1 });
  await ensureIndex(c.events, { from: 1 });
  await ensureIndex(c.refreshTokens, { username: 1 });
  await ensureIndex(c.refreshTokens, { family: 1 });
}
