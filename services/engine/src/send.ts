/**
 * A send: checked and stored at once, so sends from many senders share one store batch
 * (see {@link MessageInserter}), then answered (`stored`) and routed to the recipient's
 * gateways in its sender's arrival order.
 */
import type { BusPush, BusSend, ErrorCode, SendDecision } from '@gossip/protocol';
import type { MessageDoc } from '@gossip/store';
import { KeyedChains, settledLater } from './chains.js';
import type { AttachmentLinks } from './attachment-links.js';
import type { HandlerDeps } from './deps.js';
import { deliverFrame } from './frames.js';
import type { MessageInserter } from './inserter.js';
import type { Permissions } from './permissions.js';

/** What storing one send came to, before it is answered and routed in its sender's order. */
type Stored =
  | { outcome: 'refused'; code: ErrorCode }
  | { outcome: 'inserted'; doc: MessageDoc }
  | { outcome: 'duplicate' }
  | { outcome: 'conflict' };

export interface SendsDeps extends HandlerDeps {
  inserter: MessageInserter;
  permissions: Permissions;
  /** Checks the attachments a send names. */
  links: AttachmentLinks;
  /** How long after a live delivery the redelivery scan looks at a message again. */
  redeliverySeconds: number;
}

export class Sends {
  /** Per-sender chains: one sender's sends are stored and routed in arrival order. */
  private readonly chains = new KeyedChains();

  constructor(private readonly d: SendsDeps) {}

  /** Handles one `send`; resolves once its replies and pushes are confirmed. */
  onSend(m: BusSend): Promise<void> {
    const { out, metrics } = this.d;
    // Awaited in the chain below, possibly after earlier sends of this sender.
    const stored = settledLater(this.store(m));
    // The chain orders the publishes; their confirms are awaited after it (one channel
    // keeps publishes in order), so a sender's next message need not wait for the broker
    // to confirm this one's `stored` and `push`. The bus message is acked after both.
    return this.chains
      .run(m.from, async (): Promise<Promise<void>[]> => {
        const s = await stored;
        switch (s.outcome) {
          case 'refused':
            return [out.replyError(m, s.code, m.id)];
          case 'conflict':
            return [out.replyError(m, 'id_conflict', m.id)];
          case 'duplicate':
            metrics.duplicates.inc();
            // Stored before (a resend, or RabbitMQ redelivering after an engine crash):
            // answer `stored` again but do not route again, or every resend would multiply
            // deliveries. If the crash came before routing, the redelivery scan sends it at
            // its `dueAt`.
            return [out.toGateway(m.gw, { op: 'stored', conn: m.conn, id: m.id })];
          case 'inserted': {
            // When the recipient is on the sender's gateway too, its push carries the
            // `stored` (one publish, answered before the frame is pushed); otherwise the
            // `stored` goes alone. While Redis is not ready (a lookup may then wait for its
            // reconnect), the `stored` goes first and alone, so `accepted` never waits on it.
            const stored = { conn: m.conn, id: m.id };
            const confirms: Promise<void>[] = [];
            const storedFirst = !out.presenceReady();
            if (storedFirst) {
              confirms.push(settledLater(out.toGateway(m.gw, { op: 'stored', ...stored })));
            }
            // Possibly a shared or briefly kept answer (ENGINE_PRESENCE_CACHE_MS): the
            // message is stored already, so a stale one delays it to the replay or the
            // redelivery scan at worst, never loses it (see PresenceCache).
            const gws = await out.pushPresence(s.doc.to);
            const frame = deliverFrame(s.doc);
            const together = !storedFirst && gws.includes(m.gw);
            if (!storedFirst && !together) {
              confirms.push(settledLater(out.toGateway(m.gw, { op: 'stored', ...stored })));
            }
            for (const gw of gws) {
              const push: BusPush = { op: 'push', to: s.doc.to, live: true, frame };
              if (together && gw === m.gw) push.stored = stored;
              confirms.push(settledLater(out.toGateway(gw, push)));
              metrics.delivered.inc();
            }
            return confirms;
          }
        }
      })
      .then((confirms) => Promise.all(confirms).then(() => undefined));
  }

  private async store(m: BusSend): Promise<Stored> {
    const permitted = settledLater(this.d.permissions.check(m.from, m.to));
    const linked = settledLater(
      m.attachments ? this.d.links.check(m.from, m.to, m.attachments) : Promise.resolve(true),
    );
    // A sender's sends reach the inserter in arrival order (its batches keep that order),
    // so when two copies of one id arrive (a resend through another gateway), the first
    // copy's stamp is the one stored. Otherwise one message could keep the first copy's
    // stamp and the next the second's, and a replay, which sorts by stamp, would show
    // them out of order. Only the hand-over to the inserter waits here, not the insert.
    const queued = await this.chains.run(`store:${m.from}`, async () => {
      const permission = await permitted;
      // A refused attachment stores nothing, as a refused recipient does.
      const decision: SendDecision | 'unknown' | 'invalid_attachment' =
        permission === 'ok' && !(await linked) ? 'invalid_attachment' : permission;
      if (decision !== 'ok') return { decision };
      const doc = this.messageDoc(m);
      return { decision, doc, inserted: settledLater(this.d.inserter.insert(doc)) };
    });
    if (!queued.doc) {
      const d = queued.decision;
      return { outcome: 'refused', code: d === 'unknown' ? 'unknown_recipient' : d };
    }
    const doc = queued.doc;
    if ((await queued.inserted) === 'inserted') {
      this.d.recent.remember(doc);
      this.d.metrics.accepted.inc();
      this.d.metrics.acceptLatency.observe(Math.max(0, Date.now() - m.at) / 1000);
      return { outcome: 'inserted', doc };
    }
    const existing = await this.d.c.messages.findOne(
      { _id: m.id },
      { projection: { from: 1, to: 1 } },
    );
    if (existing && (existing.from !== m.from || existing.to !== m.to)) {
      return { outcome: 'conflict' };
    }
    return { outcome: 'duplicate' };
  }

  private messageDoc(m: BusSend): MessageDoc {
    return {
      _id: m.id,
      from: m.from,
      to: m.to,
      kind: m.kind,
      body: m.body,
      ...(m.attachments ? { attachments: m.attachments } : {}),
      sentAt: new Date(m.at),
      seq: m.at,
      attempts: 0,
      deliveredAt: null,
      // Assume the live delivery happens; if the recipient is offline, the scan finds it
      // then and parks it (dueAt null) until the recipient connects.
      dueAt: new Date(Date.now() + this.d.redeliverySeconds * 1000),
    };
  }
}
