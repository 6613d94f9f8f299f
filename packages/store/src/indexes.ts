/**
 * Every index of the shared collections, defined once with one name, whichever service
 * starts first creates them (both call {@link ensureSharedIndexes}): the same keys under
 * the same name are a no-op for MongoDB and FerretDB.
 */
import type { IndexSpecification } from 'mongodb';
import { ensureIndex } from '@gossip/servicekit';
import type { SharedCollections } from './collections.js';

export interface SharedIndex {
  coll: Exclude<keyof SharedCollections, 'users'>;
  key: IndexSpecification;
  name: string;
}

export const SHARED_INDEXES: readonly SharedIndex[] = [
  // Replay on connect: one recipient's messages in order.
  { coll: 'messages', key: { to: 1, seq: 1 }, name: 'to_seq' },
  // The redelivery scan.
  { coll: 'messages', key: { dueAt: 1 }, name: 'dueAt' },
  // The retention sweeper and the oldest-pending gauge.
  { coll: 'messages', key: { sentAt: 1 }, name: 'sentAt' },
  // Replay of receipts, and their retention sweeper.
  { coll: 'receipts', key: { to: 1 }, name: 'to' },
  { coll: 'receipts', key: { at: 1 }, name: 'at' },
  // Replay of contact events, and their retention sweeper.
  { coll: 'events', key: { to: 1, at: 1 }, name: 'to_at' },
  { coll: 'events', key: { at: 1 }, name: 'at' },
  // Account deletion (the api) removes the events a user sent.
  { coll: 'events', key: { from: 1 }, name: 'from_1' },
  // The api's contact list and its account deletion; the engine reads contacts by `_id`.
  { coll: 'contacts', key: { owner: 1 }, name: 'owner_1' },
  { coll: 'contacts', key: { peer: 1 }, name: 'peer_1' },
];

/** Creates every shared index (idempotent; safe with several services starting at once). */
export async function ensureSharedIndexes(
  c: Pick<SharedCollections, SharedIndex['coll']>,
): Promise<void> {
  for (const { coll, key, name } of SHARED_INDEXES) await ensureIndex(c[coll], key, { name });
}
