/**
 * The engine's MongoDB documents and indexes. Written for FerretDB 1.x as much as for
 * MongoDB: no transactions, no aggregation, only single-document atomic operations
 * (`insertOne` on a unique `_id`, `findOneAndUpdate` claims, filtered deletes).
 */
import {
  MongoServerError,
  type Collection,
  type Db,
  type Document,
  type IndexSpecification,
} from 'mongodb';
import {
  COLLECTIONS,
  CONTACTS_COLLECTION,
  type ContactDoc,
  type EventDoc,
  type MessageKind,
} from '@gossip/protocol';

/** A stored message, from acceptance until its recipient acks it (or it expires). */
export interface MessageDoc {
  /** The client-chosen message id: the unique key that makes resends idempotent. */
  _id: string;
  from: string;
  to: string;
  kind: MessageKind;
  /** Opaque ciphertext; never logged, never read. */
  body: string;
  /** When the gateway received it; `deliver.sentAt`. */
  sentAt: Date;
  /** Orders one recipient's messages: the gateway's per-connection strictly increasing stamp. */
  seq: number;
  /** Deliveries attempted so far. */
  attempts: number;
  /** Last time it was routed to a gateway, if ever. */
  deliveredAt: Date | null;
  /**
   * When the redelivery scan should look at it again; null while its recipient is offline
   * (it is replayed when the recipient connects).
   */
  dueAt: Date | null;
}

/** A `delivered` receipt kept for a sender that was offline when its message was acked. */
export interface ReceiptDoc {
  /** The message id. */
  _id: string;
  /** The original sender, who gets the receipt. */
  to: string;
  /** The recipient who acked. */
  from: string;
  at: Date;
}

/** Receipts waiting for their (offline) sender; deleted once pushed. */
export const RECEIPTS_COLLECTION = 'receipts';

/** Minimal view of the api's users collection the engine needs: `_id` is the username. */
interface UserDoc extends Document {
  _id: string;
}

export interface Stores {
  messages: Collection<MessageDoc>;
  receipts: Collection<ReceiptDoc>;
  events: Collection<EventDoc>;
  contacts: Collection<ContactDoc>;
  users: Collection<UserDoc>;
}

export function stores(db: Db): Stores {
  return {
    messages: db.collection<MessageDoc>(COLLECTIONS.messages),
    receipts: db.collection<ReceiptDoc>(RECEIPTS_COLLECTION),
    events: db.collection<EventDoc>(COLLECTIONS.events),
    contacts: db.collection<ContactDoc>(CONTACTS_COLLECTION),
    users: db.collection<UserDoc>(COLLECTIONS.users),
  };
}

const INDEXES: Array<{ coll: keyof Stores; key: IndexSpecification; name: string }> = [
  // Replay on connect: one recipient's messages in order.
  { coll: 'messages', key: { to: 1, seq: 1 }, name: 'to_seq' },
  // The redelivery scan.
  { coll: 'messages', key: { dueAt: 1 }, name: 'dueAt' },
  // The retention sweeper and the oldest-pending gauge.
  { coll: 'messages', key: { sentAt: 1 }, name: 'sentAt' },
  { coll: 'receipts', key: { to: 1 }, name: 'to' },
  { coll: 'events', key: { to: 1, at: 1 }, name: 'to_at' },
];

/** Creates the engine's indexes (idempotent; safe with several engines starting at once). */
export async function ensureIndexes(s: Stores): Promise<void> {
  for (const { coll, key, name } of INDEXES) {
    try {
      await s[coll].createIndex(key, { name });
    } catch (err) {
      // Another service may have made an equivalent index under another name.
      if (!(err instanceof MongoServerError && (err.code === 85 || err.code === 86))) throw err;
    }
  }
}

/** Whether `err` is a duplicate-key error (the id is already stored). */
export function isDuplicateKey(err: unknown): boolean {
  return err instanceof MongoServerError && err.code === 11000;
}
