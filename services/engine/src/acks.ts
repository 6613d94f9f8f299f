/**
 * Acks and receipts: a recipient's `ack` deletes the acked messages (or contact events)
 * addressed to it, and the sender of each deleted message gets a `delivered` receipt, at
 * once if online, else stored for its next connect (receipts.ts).
 */
import type { BusAck } from '@gossip/protocol';
import type { AttachmentLinks } from './attachment-links.js';
import type { HandlerDeps } from './deps.js';
import type { Receipts } from './receipts.js';
import type { RecentMessage } from './recent.js';

/**
 * The filter of a read or delete by these ids: `{_id}` for one, `{_id: {$in}}` for more.
 * Both use the `_id` index on MongoDB and on the test env's FerretDB (whose SQLite backend
 * pushes down nothing else: `{_id, to}` scans; packages/testenv/ferretdb/patches.json).
 */
function byIds(ids: readonly string[]): { _id: string | { $in: string[] } } {
  return ids.length === 1 ? { _id: ids[0]! } : { _id: { $in: [...ids] } };
}

/** The most ids one batch of ack frames reads and deletes at once (a frame is never split). */
export const ACK_BATCH_IDS = 256;

/** One `ack` frame waiting for its batch: settled once its ids are deleted and receipted. */
interface PendingAck {
  m: BusAck;
  ids: string[];
  done: () => void;
  fail: (err: unknown) => void;
}

export class Acks {
  private queue: PendingAck[] = [];
  private busy = false;

  constructor(
    private readonly d: HandlerDeps,
    /** Records the ack against the message's attachments (deleted once all recipients acked). */
    private readonly links: AttachmentLinks,
    private readonly receipts: Receipts,
    private readonly maxIds = ACK_BATCH_IDS,
    /** Called with each batch's number of frames, for the batch-size histogram. */
    private readonly onBatch: (frames: number) => void = () => undefined,
  ) {}

  /**
   * Deletes the acked messages (and contact events) addressed to `m.user`; resolves once
   * they are deleted and their receipts sent or stored, so the bus message is acked to
   * RabbitMQ only then (a crash before redelivers the frame; acks are idempotent).
   *
   * Group commit across frames, as the inserter does for sends: while one batch is in the
   * store, the frames that arrive meanwhile wait and go together in the next one (up to
   * {@link ACK_BATCH_IDS} ids), with one read of the ids this engine does not remember and
   * one delete for the whole batch. A frame alone waits for nothing. Reads and deletes
   * filter on `_id` alone (see `byIds`), so the recipient check is done here, per frame, on
   * the documents read: an id addressed to someone else gets `not_yours` on that frame's
   * connection and stays.
   *
   * Receipts: every message of the batch found addressed to its frame's user gets its
   * receipt, sent before the delete (see `flush`). The same ids acked through two engines
   * at once, or a frame redelivered after a crash, get a second one. A second `delivered`
   * changes nothing: the SDK moves a message's state forward only
   * (`DeliveryStates.advance`) and a stored receipt's `_id` is the message's.
   */
  onAck(m: BusAck): Promise<void> {
    return new Promise((done, fail) => {
      this.queue.push({ m, ids: [...new Set(m.ids)], done, fail });
      this.kick();
    });
  }

  private kick(): void {
    if (this.busy || this.queue.length === 0) return;
    this.busy = true;
    let ids = this.queue[0]!.ids.length;
    let taken = 1;
    while (taken < this.queue.length && ids + this.queue[taken]!.ids.length <= this.maxIds) {
      ids += this.queue[taken]!.ids.length;
      taken++;
    }
    const batch = this.queue.splice(0, taken);
    this.onBatch(batch.length);
    void this.flush(batch)
      .then(
        () => {
          for (const p of batch) p.done();
        },
        (err: unknown) => {
          for (const p of batch) p.fail(err);
        },
      )
      .finally(() => {
        this.busy = false;
        this.kick();
      });
  }

  /**
   * One batch: reads what the engine does not remember, checks each frame's ids, records
   * the attachment links, sends the receipts, then deletes. The receipts go before the
   * delete: a crash (or a failure) after the delete and before the bus messages are acked
   * redelivers frames whose messages are gone, which would then have no receipt; sent
   * before, a crash at any point costs at most a second receipt.
   */
  private async flush(batch: readonly PendingAck[]): Promise<void> {
    const { c, recent } = this.d;
    const now = Date.now();
    const docs = new Map<string, RecentMessage>();
    const unknown = new Set<string>();
    for (const p of batch) {
      for (const id of p.ids) {
        if (docs.has(id) || unknown.has(id)) continue;
        const r = recent.get(id);
        if (r) docs.set(id, r);
        else unknown.add(id);
      }
    }
    if (unknown.size > 0) {
      const found = await c.messages
        .find(byIds([...unknown]), { projection: { from: 1, to: 1, sentAt: 1, attachments: 1 } })
        .toArray();
      for (const d of found) docs.set(d._id, d);
    }
    const mine = new Map<string, RecentMessage>();
    const refused: Promise<void>[] = [];
    /** Per frame, its ids that are no message: maybe contact events. */
    const rest: [PendingAck, string[]][] = [];
    for (const p of batch) {
      const notMessages: string[] = [];
      for (const id of p.ids) {
        const d = docs.get(id);
        if (!d) notMessages.push(id);
        else if (d.to === p.m.user) mine.set(id, d);
        else refused.push(this.d.out.replyError(p.m, 'not_yours', id));
      }
      if (notMessages.length > 0) rest.push([p, notMessages]);
    }
    await Promise.all(refused);
    if (mine.size > 0) await this.deleteMessages(mine, now);
    // Not a message: maybe a contact event (the api's `events` collection). Otherwise it
    // was acked before (or expired): acks are idempotent, nothing to say.
    if (rest.length > 0) await this.deleteEvents(rest);
  }

  private async deleteMessages(
    mine: ReadonlyMap<string, RecentMessage>,
    now: number,
  ): Promise<void> {
    const { c, recent, metrics } = this.d;
    for (const id of mine.keys()) recent.forget(id);
    // Recorded before the messages go (idempotent), so a failure here leaves them for a
    // redelivered ack to record again rather than an attachment nobody clears.
    await Promise.all(
      [...mine.values()].map((d) =>
        d.attachments ? this.links.acked(d.to, d.attachments) : undefined,
      ),
    );
    await this.receipts.send(
      [...mine].map(([id, d]) => ({ id, from: d.from, to: d.to })),
      now,
    );
    const { deletedCount } = await c.messages.deleteMany(byIds([...mine.keys()]));
    if (deletedCount === 0) return; // all acked at the same moment through another engine
    metrics.acked.inc(deletedCount);
    // Exact when the delete removed them all; otherwise deletedCount of them, which ones unknown.
    let i = 0;
    for (const d of mine.values()) {
      if (i++ >= deletedCount) break;
      metrics.deliveryLatency.observe(Math.max(0, now - d.sentAt.getTime()) / 1000);
    }
  }

  /** Deletes the contact events among each frame's `ids` addressed to its user. */
  private async deleteEvents(rest: readonly [PendingAck, string[]][]): Promise<void> {
    const { c, out } = this.d;
    const all = [...new Set(rest.flatMap(([, ids]) => ids))];
    const found = await c.events.find(byIds(all), { projection: { to: 1 } }).toArray();
    const to = new Map(found.map((e) => [e._id, e.to]));
    const mine = new Set<string>();
    const refused: Promise<void>[] = [];
    for (const [p, ids] of rest) {
      for (const id of ids) {
        const owner = to.get(id);
        if (owner === undefined) continue;
        if (owner === p.m.user) mine.add(id);
        else refused.push(out.replyError(p.m, 'not_yours', id));
      }
    }
    await Promise.all(refused);
    if (mine.size > 0) await c.events.deleteMany(byIds([...mine]));
  }
}
