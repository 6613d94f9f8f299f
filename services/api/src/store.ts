/**
 * Documents the api keeps in MongoDB and the indexes it needs: its own (accounts, refresh
 * tokens) here, the collections it shares with the engine (contacts, contact events,
 * messages, receipts) from @gossip/store. FerretDB (MongoDB's wire protocol over SQLite)
 * stands in for MongoDB in tests, so nothing here relies on transactions; multi-document
 * changes are ordered so a crash leaves a state the next request can repair or that is
 * harmless (see contacts.ts).
 */
import { COLLECTIONS, type KeyChainStep, type PublicKeys } from '@gossip/protocol';
import { ensureSharedIndexes, sharedCollections } from '@gossip/store';
import type { Db } from 'mongodb';
import type { OneTimePrekeyDoc, PrekeyRecord } from './prekeys.js';
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
  /** The X25519 identity key and signed prekey (issue 16); absent until the first upload. */
  prekeys?: PrekeyRecord;
  avatar: AvatarRef | null;
  createdAt: Date;
}

/**
 * Typed handles on the collections: the shared ones, with `users` typed as the api's full
 * account document (the engine only reads that one exists).
 */
export function collections(db: Db) {
  return {
    ...sharedCollections(db),
    users: db.collection<UserDoc>(COLLECTIONS.users),
    refreshTokens: db.collection<RefreshTokenDoc>(COLLECTIONS.refreshTokens),
    prekeys: db.collection<OneTimePrekeyDoc>(COLLECTIONS.prekeys),
  };
}
export type Collections = ReturnType<typeof collections>;

/** Creates the api's indexes and the shared ones (idempotent). */
export async function ensureIndexes(db: Db): Promise<void> {
  const c = collections(db);
  await ensureSharedIndexes(c);
  // The api's own: no other service indexes this collection, so no name can clash.
  await c.refreshTokens.createIndex({ username: 1 });
  await c.refreshTokens.createIndex({ family: 1 });
  await c.prekeys.createIndex({ owner: 1, keyVersion: 1, id: 1 });
}
