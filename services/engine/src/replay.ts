/**
 * The replay on `connected`: everything stored for a user who just (re)connected (for a
 * connection resumed after it fell behind, its messages only from the first it missed),
 * pushed to that one connection a page at a time (never all of a backlog at once), then
 * `replayed` so the gateway can release the live frames it held back meanwhile.
 *
 * Every push is awaited until the broker confirmed it, and all go through one channel,
 * which keeps them in order: so `replayed` is published only after the whole backlog
 * was. If a read or a publish fails half way, the `connected` message is requeued (see
 * consumer.ts) and the replay starts again from the first page, on this engine or
 * another; the frames already pushed come again (clients drop repeated ids), and
 * `replayed` is still sent only at the end of a replay that went through.
 */
import type { BusConnected } from '@gossip/protocol';
import type { Logger } from '@gossip/servicekit';
import { contactFrameOf } from '@gossip/protocol';
import {
  eventsPage,
  messagesPage,
  receiptsPage,
  type EventCursor,
  type EventDoc,
  type MessageCursor,
  type MessageDoc,
  type ReceiptDoc,
} from '@gossip/store';
import type { HandlerDeps } from './deps.js';
import { deliverFrame } from './frames.js';
import type { PushFrame } from './outbound.js';

export interface ReplayDeps extends HandlerDeps {
  log: Logger;
  /** Documents per page read. */
  replayBatch: number;
  /** How long after this delivery the redelivery scan looks at a message again. */
  redeliverySeconds: number;
}

export class Replayer {
  constructor(private readonly d: ReplayDeps) {}

  /** Replays `m.user`'s backlog to connection `m.conn`, then pushes `replayed` there. */
  async onConnected(m: BusConnected): Promise<void> {
    const started = Date.now();
    let frames = 0;
    const push = (frame: PushFrame): Promise<void> => {
      frames++;
      return this.d.out.toGateway(m.gw, { op: 'push', to: m.user, conn: m.conn, frame });
    };
    await this.events(m.user, push);
    await this.messages(m.user, m.from, push);
    await this.receipts(m.user, push);
    await push({ type: 'replayed' });
    // Debug only: one line per connect. Says how long a replay took (a gateway gives up
    // waiting after GATEWAY_REPLAY_HOLD_MS) and how much it sent; no user content.
    this.d.log.debug(
      { conn: m.conn, from: m.from, frames, ms: Date.now() - started },
      'replay sent',
    );
  }

  /**
   * Contact events first: an `accepted` may carry the key the messages need. In (at, _id)
   * order; they stay until the client acks them.
   */
  private events(user: string, push: (f: PushFrame) => Promise<void>): Promise<void> {
    const { c, replayBatch } = this.d;
    return this.paged<EventDoc, EventCursor>(
      'events',
      (after) => eventsPage(c, user, after, replayBatch),
      (last) => ({ at: last.at, id: last._id }),
      async (page) => {
        for (const e of page) await push(contactFrameOf(e));
      },
    );
  }

  /**
   * The messages in (seq, _id) order, each page marked delivered before it is pushed. A
   * connection resumed after it fell behind gives `since`, the stamp of the first message
   * it missed: only those from there on.
   */
  private messages(
    user: string,
    since: number | undefined,
    push: (f: PushFrame) => Promise<void>,
  ): Promise<void> {
    const { c, metrics, recent, replayBatch } = this.d;
    return this.paged<MessageDoc, MessageCursor>(
      'messages',
      (after) => messagesPage(c, user, after, replayBatch, since),
      (last) => ({ seq: last.seq, id: last._id }),
      async (batch) => {
        const now = new Date();
        await c.messages.updateMany(
          { _id: { $in: batch.map((d) => d._id) }, to: user },
          {
            $set: {
              deliveredAt: now,
              dueAt: new Date(now.getTime() + this.d.redeliverySeconds * 1000),
            },
            $inc: { attempts: 1 },
          },
        );
        for (const d of batch) {
          recent.remember(d);
          await push(deliverFrame(d));
          metrics.delivered.inc();
        }
      },
    );
  }

  /**
   * Receipts for messages acked while this user was away: best effort, pushed once, a
   * page at a time in `_id` order (the cursor, not the delete, moves the page on).
   */
  private receipts(user: string, push: (f: PushFrame) => Promise<void>): Promise<void> {
    const { c, replayBatch } = this.d;
    return this.paged<ReceiptDoc, string>(
      'receipts',
      (after) => receiptsPage(c, user, after, replayBatch),
      (last) => last._id,
      async (page) => {
        for (const r of page) {
          await push({ type: 'delivered', id: r._id, to: r.from, at: r.at.getTime() });
        }
        await c.receipts.deleteMany({ _id: { $in: page.map((r) => r._id) }, to: user });
      },
    );
  }

  /**
   * Reads pages of `replayBatch` from `read` (given the cursor after the last page's last
   * document), counts each in `replayPages`, hands each non-empty one to `handle`, and
   * stops after a short page.
   */
  private async paged<D, C>(
    kind: 'events' | 'messages' | 'receipts',
    read: (after: C | undefined) => Promise<D[]>,
    cursorOf: (last: D) => C,
    handle: (page: D[]) => Promise<void>,
  ): Promise<void> {
    let after: C | undefined;
    for (;;) {
      const page = await read(after);
      this.d.metrics.replayPages.inc({ kind });
      const last = page[page.length - 1];
      if (!last) break;
      await handle(page);
      if (page.length < this.d.replayBatch) break;
      after = cursorOf(last);
    }
  }
}
