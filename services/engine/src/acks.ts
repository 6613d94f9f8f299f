/**
 * Acks and receipts: a recipient's `ack` deletes the acked messages (or contact events)
 * addressed to it, and the sender of each deleted message gets a `delivered` receipt, at
 * once if online, else stored for its next connect.
 */
import type { BusAck } from '@gossip/protocol';
import { isDuplicateKey } from '@gossip/store';
import type { AttachmentLinks } from './attachment-links.js';
import type { HandlerDeps } from './deps.js';

export class Acks {
  constructor(
    private readonly d: HandlerDeps,
    /** Records the ack against the message's attachments (deleted once all recipients acked). */
    private readonly links: AttachmentLinks,
  ) {}

  /**
   * Deletes the acked messages (and contact events) addressed to `m.user`. Every lookup
   * and delete filters on `_id` alone: FerretDB's SQLite backend uses the primary key only
   * for a filter that is exactly `{_id}` and scans the whole collection for anything more
   * (`{_id, to}` included), so the recipient check is done here on the document read.
   * Exactly one engine's `deleteOne` removes a document, and only that one sends the
   * receipt.
   */
  async onAck(m: BusAck): Promise<void> {
    const now = Date.now();
    await Promise.all(m.ids.map((id) => this.ackOne(m, id, now)));
  }

  private async ackOne(m: BusAck, id: string, now: number): Promise<void> {
    const { c, out, recent, metrics } = this.d;
    const d =
      recent.get(id) ??
      (await c.messages.findOne(
        { _id: id },
        { projection: { from: 1, to: 1, sentAt: 1, attachments: 1 } },
      ));
    if (d) {
      if (d.to !== m.user) return out.replyError(m, 'not_yours', id);
      recent.forget(id);
      // Recorded before the message goes (idempotent), so a failure here leaves the message
      // for a redelivered ack to record again rather than an attachment nobody clears.
      if (d.attachments) await this.links.acked(m.user, d.attachments);
      const { deletedCount } = await c.messages.deleteOne({ _id: id });
      if (deletedCount === 0) return; // acked at the same moment through another engine
      metrics.acked.inc();
      metrics.deliveryLatency.observe(Math.max(0, now - d.sentAt.getTime()) / 1000);
      return this.receipt(id, d.from, m.user, now);
    }
    // Not a message: maybe a contact event (the api's `events` collection).
    const e = await c.events.findOne({ _id: id }, { projection: { to: 1 } });
    if (e) {
      if (e.to !== m.user) return out.replyError(m, 'not_yours', id);
      await c.events.deleteOne({ _id: id });
    }
    // Otherwise it was acked before (or expired): acks are idempotent, nothing to say.
  }

  /** Tells the sender its message was acked: now if online, else on its next connect. */
  private async receipt(id: string, sender: string, recipient: string, at: number): Promise<void> {
    const { c, out, metrics } = this.d;
    const gws = await out.presence(sender);
    for (const gw of gws) {
      await out.toGateway(gw, {
        op: 'push',
        to: sender,
        frame: { type: 'delivered', id, to: recipient, at },
      });
    }
    if (gws.length > 0) return;
    try {
      await c.receipts.insertOne({ _id: id, to: sender, from: recipient, at: new Date(at) });
      metrics.receiptsStored.inc();
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
  }
}
