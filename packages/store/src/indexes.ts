/**
 * Every index of the shared collections, defined once with one name; whichever service
 * starts first creates them (both call {@link ensureSharedIndexes}), and the same keys
 * under the same name are a no-op for MongoDB and FerretDB.
 */
import { MongoServerError, type Collection, type IndexSpecification } from 'mongodb';
import type { SharedCollections } from './collections.js';

export interface SharedIndex {
  coll: Exclude<keyof SharedCollections, 'users'>;
  key: IndexSpecification;
  name: string;
  /**
   * Names databases made by earlier versions have for these keys (the api let MongoDB
   * name its indexes, the engine named its own): accepted as the same index.
   */
  formerNames?: readonly string[];
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
  { coll: 'events', key: { to: 1, at: 1 }, name: 'to_at', formerNames: ['to_1_at_1'] },
  { coll: 'events', key: { at: 1 }, name: 'at' },
  // Account deletion (the api) removes the events a user sent.
  { coll: 'events', key: { from: 1 }, name: 'from_1' },
  // The api's contact list and its account deletion; the engine reads contacts by `_id`.
  { coll: 'contacts', key: { owner: 1 }, name: 'owner_1' },
  { coll: 'contacts', key: { peer: 1 }, name: 'peer_1' },
  // The api's per-user quota; the engine's sweep of unfinished and expired attachments.
  { coll: 'attachments', key: { owner: 1 }, name: 'owner_1' },
  { coll: 'attachments', key: { createdAt: 1 }, name: 'createdAt_1' },
];

/** MongoDB's IndexOptionsConflict: these keys are indexed already, under another name. */
const INDEX_OPTIONS_CONFLICT = 85;

/** What index creation needs of a collection (any document type). */
type Indexable = Pick<Collection, 'collectionName' | 'createIndex' | 'listIndexes'>;

async function ensureOne(coll: Indexable, ix: SharedIndex): Promise<void> {
  try {
    await coll.createIndex(ix.key, { name: ix.name });
  } catch (err) {
    if (!(err instanceof MongoServerError && err.code === INDEX_OPTIONS_CONFLICT)) throw err;
    const wanted = JSON.stringify(ix.key);
    const existing = (await coll.listIndexes().toArray()).find(
      (i) => JSON.stringify(i.key) === wanted,
    );
    const name = String(existing?.name);
    if (!existing || !ix.formerNames?.includes(name)) {
      throw new Error(
        `${coll.collectionName} has ${wanted} indexed as '${name}', not '${ix.name}' or a former name of it`,
        { cause: err },
      );
    }
  }
}

/** Creates every shared index (idempotent; safe with several services starting at once). */
export async function ensureSharedIndexes(
  c: Pick<SharedCollections, SharedIndex['coll']>,
): Promise<void> {
  for (const ix of SHARED_INDEXES) await ensureOne(c[ix.coll], ix);
}
