/**
 * The redelivery scan: re-sends messages delivered but not acked within the redelivery
 * timeout, and parks those whose recipient is offline until it connects (replay).
 */
import type { Logger } from '@gossip/servicekit';
import type { MessageDoc, SharedCollections } from '@gossip/store';
import { deliverFrame } from './frames.js';
import type { EngineMetrics } from './metrics.js';
import type { Outbound } from './outbound.js';

export interface RedeliveryDeps {
  c: SharedCollections;
  out: Outbound;
  metrics: EngineMetrics;
  log: Logger;
  redeliverySeconds: number;
  /** True once the engine stops: the scan ends after the message at hand. */
  stopping: () => boolean;
  /** Whether the bus is up: no scan while it is not (nothing could be sent). */
  busUp: () => boolean;
}

/** Documents looked at per scan. */
const SCAN_LIMIT = 500;

export class RedeliveryScan {
  private running = false;

  constructor(private readonly d: RedeliveryDeps) {}

  /** Whether a scan is under way (shutdown waits for it). */
  get scanning(): boolean {
    return this.running;
  }

  /**
   * One scan; a no-op while one runs. Each message is claimed by moving its `dueAt` with
   * a conditional `findOneAndUpdate`, so with several engines exactly one re-sends it per
   * period.
   */
  async run(): Promise<void> {
    if (this.running || this.d.stopping() || !this.d.busUp()) return;
    this.running = true;
    try {
      await this.scan();
    } finally {
      this.running = false;
    }
  }

  private async scan(): Promise<void> {
    const { c, out, metrics } = this.d;
    const now = new Date();
    const due = await c.messages
      .find({ dueAt: { $lte: now } })
      .project<Pick<MessageDoc, '_id' | 'dueAt' | 'to'>>({ dueAt: 1, to: 1 })
      .sort({ dueAt: 1 })
      .limit(SCAN_LIMIT)
      .toArray();
    const online = new Map<string, string[]>();
    for (const d of due) {
      if (this.d.stopping()) break;
      const next = new Date(Date.now() + this.d.redeliverySeconds * 1000);
      const claimed = await c.messages.findOneAndUpdate(
        { _id: d._id, dueAt: d.dueAt },
        { $set: { dueAt: next } },
        { returnDocument: 'after' },
      );
      if (!claimed) continue; // another engine took it, or it was acked
      let gws = online.get(claimed.to);
      if (!gws) {
        try {
          gws = await out.lookup(claimed.to);
        } catch (err) {
          // Unknown is not offline: parked, it would wait for a connect that a recipient
          // connected all along never makes. Redis is down: stop here; the claim moved
          // this one's `dueAt`, and the next scans try again.
          this.d.log.warn({ err }, 'presence lookup failed; redelivery scan paused');
          break;
        }
        online.set(claimed.to, gws);
      }
      if (gws.length === 0) {
        // Offline: park it until the recipient connects (replay).
        await c.messages.updateOne({ _id: d._id, dueAt: next }, { $set: { dueAt: null } });
        continue;
      }
      await c.messages.updateOne(
        { _id: d._id },
        { $set: { deliveredAt: new Date() }, $inc: { attempts: 1 } },
      );
      const frame = deliverFrame(claimed);
      for (const gw of gws) {
        await out.toGateway(gw, { op: 'push', to: claimed.to, frame });
      }
      metrics.redelivered.inc();
      metrics.delivered.inc();
    }
  }
}
