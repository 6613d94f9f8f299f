/**
 * Acks and the seen-set: which deliveries were handled (a bounded, persisted set, so a
 * redelivery after a restart is acked, not shown again) and the `ack` frames that tell the
 * server so. Acks are batched for `ackDelayMs`, sent only after the seen-set that holds
 * them was saved (ack only what is remembered), within the client's rate, and a batch the
 * gateway could not record (a retryable error whose `ref` is its first id) is sent again.
 */
import { MAX_ACK_IDS, type ErrorCode } from '@gossip/protocol';
import { LRUCache } from '@gossip/limits';
import type { GatewayConnection } from './connection.js';
import { notify } from './hooks.js';
import type { MessengerHooks, MessengerStats } from './messenger-types.js';
import { RETRYABLE } from './outbox.js';
import type { TokenBucket } from '@gossip/limits';
import { BoundedIdSet, type MessengerStore } from './store.js';

/** What the acks work with. */
export interface AcksDeps {
  connection: Pick<GatewayConnection, 'state' | 'trySend'>;
  store: Pick<MessengerStore, 'saveSeen'>;
  rate: TokenBucket;
  stats: MessengerStats;
  hooks: MessengerHooks | undefined;
  /** How many handled delivery ids are remembered. */
  seenLimit: number;
  /** How long acks are batched (ms). */
  ackDelayMs: number;
}

/** The handled deliveries and their acks. */
export class Acks {
  private seen: BoundedIdSet | undefined;
  private seenDirty = false;
  private readonly queue = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** The flush under way, if any. */
  private flushing: Promise<void> | undefined;
  /** Recent ack frames by their first id (the `ref` of an error about them). */
  private readonly batches = new LRUCache<string, string[]>({ max: 64 });

  constructor(private readonly d: AcksDeps) {}

  /** Starts from the persisted seen-set (oldest first). */
  load(seen: readonly string[]): void {
    this.seen = new BoundedIdSet(this.d.seenLimit, seen);
  }

  /** Whether delivery `id` was handled before. */
  isSeen(id: string): boolean {
    return this.seen?.has(id) ?? false;
  }

  /** Marks a delivery handled (seen) and acks it. */
  handled(id: string): void {
    this.seen?.add(id);
    this.seenDirty = true;
    this.add(id);
  }

  /** Queues an ack for `id` (handled before: its earlier ack was lost). */
  add(id: string): void {
    this.queue.add(id);
    this.schedule(this.queue.size >= MAX_ACK_IDS ? 0 : this.d.ackDelayMs);
  }

  /**
   * An error frame whose `ref` may name one of our ack batches; returns whether it was
   * retried (a retryable error: the gateway could not record these acks).
   */
  retry(ref: string | undefined, code: ErrorCode): boolean {
    const batch = ref ? this.batches.get(ref) : undefined;
    if (!batch || !RETRYABLE.has(code)) return false;
    for (const id of batch) this.add(id);
    return true;
  }

  /** Sends what is queued as soon as possible (a new connection, say). */
  soon(): void {
    this.schedule(0);
  }

  /**
   * Persists the seen-set, then sends the queued acks. While a flush is under way it
   * returns that one (which sends only the ids queued before its save).
   */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (!this.seen) return Promise.resolve();
    const run = this.run(this.seen).finally(() => (this.flushing = undefined));
    this.flushing = run;
    return run;
  }

  private async run(seen: BoundedIdSet): Promise<void> {
    // Only ids queued before the save are acked in this round.
    const ready = [...this.queue];
    if (this.seenDirty) {
      this.seenDirty = false;
      try {
        await this.d.store.saveSeen(seen.toArray());
      } catch {
        this.seenDirty = true;
        this.schedule(1000);
        return;
      }
    }
    while (ready.length > 0 && this.d.connection.state === 'open') {
      if (!this.d.rate.take()) {
        this.schedule(this.d.rate.msUntilNext());
        return;
      }
      const ids = ready.slice(0, MAX_ACK_IDS);
      if (!this.d.connection.trySend({ type: 'ack', ids })) break;
      this.batches.set(ids[0] as string, ids);
      ready.splice(0, ids.length);
      for (const id of ids) this.queue.delete(id);
      this.d.stats.acked += ids.length;
      notify(this.d.hooks, 'onAcked', ids);
    }
    // Acks left over (disconnected) go after the next `hello`; the replay re-sends their
    // messages anyway and the seen-set acks those again.
    if (this.queue.size > 0 && this.d.connection.state === 'open') {
      this.schedule(this.d.ackDelayMs);
    }
  }

  /**
   * Sends what is queued and stops the timer. A flush under way is waited for first, then
   * what was queued during it is sent too (it would otherwise wait for the next connect).
   */
  async stop(): Promise<void> {
    while (this.flushing) await this.flushing;
    await this.flush();
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(ms: number): void {
    if (this.timer !== undefined) {
      if (ms > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, ms);
  }
}
