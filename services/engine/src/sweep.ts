/**
 * The retention sweep and the pending-messages gauges: the periodic jobs that only read
 * or delete by age.
 */
import type { Logger } from '@gossip/servicekit';
import type { SharedCollections } from '@gossip/store';
import type { EngineMetrics } from './metrics.js';

/** How long each kind is kept before the sweep deletes it (seconds). */
export interface Retention {
  retentionSeconds: number;
  eventRetentionSeconds: number;
  receiptRetentionSeconds: number;
}

/**
 * Deletes messages, contact events and receipts older than their retention periods and
 * counts each kind. Returns the number of messages.
 */
export async function sweepExpired(
  c: SharedCollections,
  r: Retention,
  metrics: EngineMetrics,
  log: Logger,
): Promise<number> {
  const before = (seconds: number): Date => new Date(Date.now() - seconds * 1000);
  const res = await c.messages.deleteMany({ sentAt: { $lt: before(r.retentionSeconds) } });
  if (res.deletedCount > 0) {
    metrics.expired.inc(res.deletedCount);
    log.info({ expired: res.deletedCount }, 'expired undelivered messages');
  }
  const events = await c.events.deleteMany({ at: { $lt: before(r.eventRetentionSeconds) } });
  if (events.deletedCount > 0) {
    metrics.eventsExpired.inc(events.deletedCount);
    log.info({ expired: events.deletedCount }, 'expired unacked contact events');
  }
  const receipts = await c.receipts.deleteMany({
    at: { $lt: before(r.receiptRetentionSeconds) },
  });
  if (receipts.deletedCount > 0) {
    metrics.receiptsExpired.inc(receipts.deletedCount);
    log.info({ expired: receipts.deletedCount }, 'expired unfetched receipts');
  }
  return res.deletedCount;
}

/** Sets the pending-messages count and the oldest pending message's age. */
export async function refreshStats(c: SharedCollections, metrics: EngineMetrics): Promise<void> {
  const pending = await c.messages.countDocuments({});
  metrics.pending.set(pending);
  const oldest = await c.messages.findOne({}, { sort: { sentAt: 1 }, projection: { sentAt: 1 } });
  metrics.oldestPendingAge.set(
    oldest ? Math.max(0, (Date.now() - oldest.sentAt.getTime()) / 1000) : 0,
  );
}
