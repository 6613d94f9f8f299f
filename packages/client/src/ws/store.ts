/**
 * What the `Messenger` keeps between runs: the ids of recently handled deliveries (so a
 * redelivery after a restart is acked, not shown again) and the outbox (sends not yet
 * `accepted`, resent with the same id after a restart). Bodies in the outbox are
 * ciphertext, so storing them reveals no more than the server holds.
 */
import type { SendFrame } from '@gossip/protocol';
import { LRUCache } from '@gossip/limits';

/** Persistence for a `Messenger`; methods may be slow, the Messenger batches its writes. */
export interface MessengerStore {
  /** The handled delivery ids, oldest first. */
  loadSeen(): Promise<string[]>;
  /** Replaces the handled delivery ids (a bounded list, oldest first). */
  saveSeen(ids: string[]): Promise<void>;
  /** Sends not yet accepted, in send order. */
  loadOutbox(): Promise<SendFrame[]>;
  saveOutbox(frames: SendFrame[]): Promise<void>;
}

/** Keeps everything in memory (lost with the process). */
export class MemoryMessengerStore implements MessengerStore {
  private seen: string[] = [];
  private outbox: SendFrame[] = [];
  async loadSeen(): Promise<string[]> {
    return [...this.seen];
  }
  async saveSeen(ids: string[]): Promise<void> {
    this.seen = [...ids];
  }
  async loadOutbox(): Promise<SendFrame[]> {
    return this.outbox.map((f) => ({ ...f }));
  }
  async saveOutbox(frames: SendFrame[]): Promise<void> {
    this.outbox = frames.map((f) => ({ ...f }));
  }
}

/**
 * A set that remembers the newest `limit` ids (insertion order: `has` does not refresh an
 * id, so the oldest added goes first), over `@gossip/limits`' LRUCache.
 */
export class BoundedIdSet {
  private readonly ids: LRUCache<string, true>;
  constructor(
    readonly limit: number,
    initial: Iterable<string> = [],
  ) {
    this.ids = new LRUCache<string, true>({ max: limit });
    for (const id of initial) this.add(id);
  }
  has(id: string): boolean {
    return this.ids.has(id);
  }
  add(id: string): void {
    if (!this.ids.has(id)) this.ids.set(id, true);
  }
  get size(): number {
    return this.ids.size;
  }
  /** Oldest first. */
  toArray(): string[] {
    return [...this.ids.rkeys()];
  }
}
