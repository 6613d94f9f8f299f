/**
 * The engine's MongoDB documents and indexes. Written for FerretDB 1.x as much as for
 * MongoDB: no transactions, no aggregation, only single-document atomic operations
 * (`insertOne` on a unique `_id`, `findOneAndUpdate` claims, filtered deletes).
 */
import {
  MongoBulkWriteError,
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
import { ensureIndex } from '@gossip/servicekit';

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
  // Their retention sweeper.
  { coll: 'receipts', key: { at: 1 }, name: 'at' },
  { coll: 'events', key: { at: 1 }, name: 'at' },
];

/** Creates the engine's indexes (idempotent; safe with several engines starting at once). */
export async function ensureIndexes(s: Stores): Promise<void> {
  for (const { coll, key, name } of INDEXES) await ensureIndex(s[coll], key, { name });
}

/** Whether `err` is a duplicate-key error (the id is already stored). */
export function isDuplicateKey(err: unknown): boolean {
  return err instanceof MongoServerError && err.code === 11000;
}

type Inserted = 'inserted' | 'duplicate';

/**
 * Stores messages in batches (group commit): while one `insertMany` is in flight, the
 * documents that arrive meanwhile queue up and go together in the next one. One message
 * alone waits for nothing; under load a round trip and a store transaction are shared by
 * up to `maxBatch` messages. A duplicate `_id` (a resend, or RabbitMQ redelivering after a
 * crash) is reported per document, as `insertOne` would; any other failure rejects the
 * documents it concerns, and their bus messages are retried.
 */
export class MessageInserter {
  private queue: { doc: MessageDoc; done: (r: Inserted) => void; fail: (e: unknown) => void }[] =
    [];
  private busy = false;

  constructor(
    private readonly coll: Collection<MessageDoc>,
    private readonly maxBatch: number,
    /** Called with each batch's size, for the batch-size histogram. */
    private readonly onBatch: (size: number) => void = () => undefined,
  ) {}

  insert(doc: MessageDoc): Promise<Inserted> {
    return new Promise((done, fail) => {
      this.queue.push({ doc, done, fail });
      this.kick();
    });
  }

  private kick(): void {
    if (this.busy || this.queue.length === 0) return;
    this.busy = true;
    const batch = this.queue.splice(0, this.maxBatch);
    this.onBatch(batch.length);
    void this.flush(batch).finally(() => {
      this.busy = false;
      this.kick();
    });
  }

  private async flush(batch: typeof this.queue): Promise<void> {
    try {
      await this.coll.insertMany(
        batch.map((b) => b.doc),
        { ordered: false },
      );
      for (const b of batch) b.done('inserted');
    } catch (err) {
      if (!(err instanceof MongoBulkWriteError)) {
        for (const b of batch) b.fail(err);
        return;
      }
      const errs = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
      const byIndex = new Map(errs.map((e) => [e.index, e]));
      batch.forEach((b, i) => {
        const e = byIndex.get(i);
        if (!e) b.done('inserted');
        else if (e.code === 11000) b.done('duplicate');
        else b.fail(new Error(`insert of a message failed: ${e.errmsg ?? `code ${e.code}`}`));
      });
    }
  }
}
