/**
 * Group commit of new messages into MongoDB (the engine's hot path for sends).
 */
import type { Collection } from 'mongodb';
import { bulkWriteErrors, DUPLICATE_KEY_CODE, type MessageDoc } from '@gossip/store';

/** What storing one message came to: new, or its `_id` was stored before. */
export type Inserted = 'inserted' | 'duplicate';

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
      const errs = bulkWriteErrors(err);
      if (!errs) {
        for (const b of batch) b.fail(err);
        return;
      }
      const byIndex = new Map(errs.map((e) => [e.index, e]));
      batch.forEach((b, i) => {
        const e = byIndex.get(i);
        if (!e) b.done('inserted');
        else if (e.code === DUPLICATE_KEY_CODE) b.done('duplicate');
        else b.fail(new Error(`insert of a message failed: ${e.errmsg ?? `code ${e.code}`}`));
      });
    }
  }
}
