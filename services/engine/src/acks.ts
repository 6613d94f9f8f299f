/**
 * Acks and receipts: a recipient's `ack` deletes the acked messages (or contact events)
 * addressed to it, and the sender of each deleted message gets a `delivered` receipt, at
 * once if online, else stored for its next connect.
 */
import type { BusAck } from '@gossip/protocol';
import { bulkWriteErrors, DUPLICATE_KEY_CODE } from '@gossip/store';
import type { AttachmentLinks } from './attachment-links.js';
import type { HandlerDeps } from './deps.js';
import type { RecentMessage } from './recent.js';

/**
 * The filter of a read or delete by these ids: `{_id}` for one, `{_id: {$in}}` for more.
 * Both use the `_id` index on MongoDB and on the test env's FerretDB (whose SQLite backend
 * pushes down nothing else: `{_id, to}` scans; packages/testenv/ferretdb/patches.json).
 */
function byIds(ids: readonly string[]): { _id: string | { $in: string[] } } {
  return ids.length === 1 ? { _id: ids[0]! } : { _id: { $in: [...ids] } };
}

export class Acks {
  constructor(
    private readonly d: HandlerDeps,
    /** Records the ack against the message's attachments (deleted once all recipients acked). */
    private readonly links: AttachmentLinks,
  ) {}

  /**
   * Deletes the acked messages (and contact events) addressed to `m.user`, with one read of
   * the ids this engine does not remember and one delete for the whole frame. Reads and
   * deletes filter on `_id` alone (see `byIds`), so the recipient check is done here on
   * the documents read: an id addressed to someone else gets `not_yours` and stays.
   *
   * Receipts: when the delete removed every message of the frame, each gets its receipt
   * from this engine. When it removed fewer, another engine deleted some of them at the
   * same moment (the same ids acked twice, through two engines) and there is no telling
   * which: every message of the frame then gets its receipt, so none is lost and a few
   * may come twice. A second `delivered` changes nothing: the SDK moves a message's state
   * forward only (`DeliveryStates.advance`) and a stored receipt's `_id` is the message's.
   */
  async onAck(m: BusAck): Promise<void> {
    const { c, out, recent } = this.d;
    const now = Date.now();
    const ids = [...new Set(m.ids)];
    const docs = new Map<string, RecentMessage>();
    const unknown: string[] = [];
    for (const id of ids) {
      const r = recent.get(id);
      if (r) docs.set(id, r);
      else unknown.push(id);
    }
    if (unknown.length > 0) {
      const found = await c.messages
        .find(byIds(unknown), { projection: { from: 1, to: 1, sentAt: 1, attachments: 1 } })
        .toArray();
      for (const d of found) docs.set(d._id, d);
    }
    const mine: [string, RecentMessage][] = [];
    const refused: Promise<void>[] = [];
    for (const [id, d] of docs) {
      if (d.to === m.user) mine.push([id, d]);
      else refused.push(out.replyError(m, 'not_yours', id));
    }
    await Promise.all(refused);
    if (mine.length > 0) await this.deleteMessages(m.user, mine, now);
    // Not a message: maybe a contact event (the api's `events` collection). Otherwise it
    // was acked before (or expired): acks are idempotent, nothing to say.
    const rest = unknown.filter((id) => !docs.has(id));
    if (rest.length > 0) await this.deleteEvents(m, rest);
  }

  private async deleteMessages(
    user: string,
    mine: readonly [string, RecentMessage][],
    now: number,
  ): Promise<void> {
    const { c, recent, metrics } = this.d;
    for (const [id] of mine) recent.forget(id);
    // Recorded before the messages go (idempotent), so a failure here leaves them for a
    // redelivered ack to record again rather than an attachment nobody clears.
    await Promise.all(
      mine.map(([, d]) => (d.attachments ? this.links.acked(user, d.attachments) : undefined)),
    );
    const { deletedCount } = await c.messages.deleteMany(byIds(mine.map(([id]) => id)));
    if (deletedCount === 0) return; // all acked at the same moment through another engine
    metrics.acked.inc(deletedCount);
    // Exact when the delete removed them all; otherwise deletedCount of them, which ones unknown.
    for (const [, d] of mine.slice(0, deletedCount)) {
      metrics.deliveryLatency.observe(Math.max(0, now - d.sentAt.getTime()) / 1000);
    }
    const bySender = new Map<string, string[]>();
    for (const [id, d] of mine) {
      const list = bySender.get(d.from);
      if (list) list.push(id);
      else bySender.set(d.from, [id]);
    }
    await Promise.all([...bySender].map(([sender, ids]) => this.receipts(ids, sender, user, now)));
  }

  private async deleteEvents(m: BusAck, ids: readonly string[]): Promise<void> {
    const { c, out } = this.d;
    const found = await c.events.find(byIds(ids), { projection: { to: 1 } }).toArray();
    const mine: string[] = [];
    const refused: Promise<void>[] = [];
    for (const e of found) {
      if (e.to === m.user) mine.push(e._id);
      else refused.push(out.replyError(m, 'not_yours', e._id));
    }
    await Promise.all(refused);
    if (mine.length > 0) await c.events.deleteMany(byIds(mine));
  }

  /**
   * Tells the sender its messages `ids` were acked: now if online (one presence read for
   * them all), else on its next connect (one insert for them all; one stored before, by
   * another engine or a redelivered ack, is left as it is).
   */
  private async receipts(
    ids: readonly string[],
    sender: string,
    recipient: string,
    at: number,
  ): Promise<void> {
    const { c, out, metrics } = this.d;
    const gws = await out.presence(sender);
    if (gws.length > 0) {
      await Promise.all(
        gws.flatMap((gw) =>
          ids.map((id) =>
            out.toGateway(gw, {
              op: 'push',
              to: sender,
              frame: { type: 'delivered', id, to: recipient, at },
            }),
          ),
        ),
      );
      return;
    }
    const docs = ids.map((_id) => ({ _id, to: sender, from: recipient, at: new Date(at) }));
    try {
      await c.receipts.insertMany(docs, { ordered: false });
      metrics.receiptsStored.inc(docs.length);
    } catch (err) {
      const errs = bulkWriteErrors(err);
      if (!errs) throw err;
      const other = errs.find((e) => e.code !== DUPLICATE_KEY_CODE);
      if (other)
        throw new Error(`storing receipts failed: ${other.errmsg ?? `code ${other.code}`}`);
      metrics.receiptsStored.inc(docs.length - errs.length);
    }
  }
}
