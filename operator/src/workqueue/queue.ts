/**
 * A rate-limited, delaying, de-duplicating work queue of string keys, after client-go's
 * `workqueue`. The guarantees controllers rely on:
 *
 * - a key is queued at most once however often it is added (`dirty`);
 * - a key is never handed to two workers at once: added while it is being processed, it
 *   is queued again only when the worker calls {@link WorkQueue.done} (`processing`);
 * - `addAfter` keeps the earliest requested time per key;
 * - `addRateLimited` delays by the rate limiter (per-key backoff, overall token bucket).
 *
 * Why our own: @kubernetes/client-node (1.4.0) has no work queue, and no npm package we
 * found gives these guarantees (the operator frameworks on npm call a handler per watch
 * event, the counter-example in STYLE.md). It is small, pure and unit tested on a fake clock.
 */
import { realClock, type Clock, type TimerHandle } from './clock.js';
import { defaultControllerRateLimiter, type RateLimiter } from './rate-limiter.js';

/** Callbacks for metrics; every one is optional. Durations in seconds. */
export interface WorkQueueMetrics {
  add?(): void;
  depth?(depth: number): void;
  retry?(): void;
  queueDuration?(seconds: number): void;
  workDuration?(seconds: number): void;
}

export interface WorkQueueOptions {
  clock?: Clock;
  rateLimiter?: RateLimiter;
  metrics?: WorkQueueMetrics;
}

interface Waiting {
  readyAt: number;
  timer: TimerHandle;
}

export class WorkQueue {
  private readonly clock: Clock;
  private readonly limiter: RateLimiter;
  private readonly metrics: WorkQueueMetrics;
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Map<string, number>();
  private readonly queuedAt = new Map<string, number>();
  private readonly waiting = new Map<string, Waiting>();
  private readonly getters: ((key: string | undefined) => void)[] = [];
  private readonly drainers: (() => void)[] = [];
  private shuttingDown = false;

  constructor(opts: WorkQueueOptions = {}) {
    this.clock = opts.clock ?? realClock;
    this.limiter = opts.rateLimiter ?? defaultControllerRateLimiter(this.clock);
    this.metrics = opts.metrics ?? {};
  }

  /** Queues `key` now unless it is already queued; ignored after shutdown. */
  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.metrics.add?.();
    this.dirty.add(key);
    if (this.processing.has(key)) return; // re-queued by done()
    this.push(key);
  }

  /** Queues `key` after `ms`; a key already waiting keeps the earlier of the two times. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const readyAt = this.clock.now() + ms;
    const existing = this.waiting.get(key);
    if (existing) {
      if (existing.readyAt <= readyAt) return;
      this.clock.clearTimer(existing.timer);
    }
    const timer = this.clock.setTimer(() => {
      this.waiting.delete(key);
      this.add(key);
    }, ms);
    this.waiting.set(key, { readyAt, timer });
  }

  /** Queues `key` after the rate limiter's delay: the retry path after a failure. */
  addRateLimited(key: string): void {
    this.metrics.retry?.();
    this.addAfter(key, this.limiter.when(key));
  }

  /** Ends the backoff of `key`: call it after a success or when giving up. */
  forget(key: string): void {
    this.limiter.forget(key);
  }

  numRequeues(key: string): number {
    return this.limiter.numRequeues(key);
  }

  /** Keys queued and not yet handed out. */
  len(): number {
    return this.queue.length;
  }

  /** Keys handed out whose `done` has not been called. */
  inFlight(): number {
    return this.processing.size;
  }

  /**
   * The next key to process, waiting until there is one. Resolves `undefined` once the
   * queue is shut down and empty. The caller must call {@link done} with the key.
   */
  get(): Promise<string | undefined> {
    const key = this.take();
    if (key !== undefined || this.shuttingDown) return Promise.resolve(key);
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** Marks `key` processed; if it was added meanwhile it goes back on the queue. */
  done(key: string): void {
    const started = this.processing.get(key);
    if (started !== undefined) this.metrics.workDuration?.((this.clock.now() - started) / 1000);
    this.processing.delete(key);
    if (this.dirty.has(key)) this.push(key);
    if (this.processing.size === 0) for (const d of this.drainers.splice(0)) d();
  }

  /** Stops accepting keys, drops delayed ones and releases every waiting `get()`. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const w of this.waiting.values()) this.clock.clearTimer(w.timer);
    this.waiting.clear();
    for (const g of this.getters.splice(0)) g(undefined);
  }

  /** {@link shutDown}, then waits until every key handed out is done. */
  async shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.processing.size === 0) return;
    await new Promise<void>((resolve) => this.drainers.push(resolve));
  }

  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  private push(key: string): void {
    this.queuedAt.set(key, this.clock.now());
    const getter = this.getters.shift();
    if (getter) {
      // Hand it straight to a waiting worker; it never sits in the queue.
      this.queue.push(key);
      getter(this.take());
      return;
    }
    this.queue.push(key);
    this.metrics.depth?.(this.queue.length);
  }

  private take(): string | undefined {
    const key = this.queue.shift();
    if (key === undefined) return undefined;
    this.metrics.depth?.(this.queue.length);
    const queuedAt = this.queuedAt.get(key);
    this.queuedAt.delete(key);
    if (queuedAt !== undefined) this.metrics.queueDuration?.((this.clock.now() - queuedAt) / 1000);
    this.dirty.delete(key);
    this.processing.set(key, this.clock.now());
    return key;
  }
}
