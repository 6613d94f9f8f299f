/**
 * Rate limiters for the work queue, after client-go's `workqueue` package: a per-key
 * exponential backoff for failures and an overall token bucket, combined by taking the
 * longer of the two delays (client-go's `DefaultControllerRateLimiter`).
 */
import { TokenBucket, backoffDelay } from '@gossip/limits';
import type { Clock } from './clock.js';

/** Decides how long a key waits before it is processed again. */
export interface RateLimiter {
  /** The delay (ms) before `key` may be retried; counts one more failure. */
  when(key: string): number;
  /** Clears the failure history of `key` (it succeeded or was dropped). */
  forget(key: string): void;
  /** How many times `key` has failed since it was last forgotten. */
  numRequeues(key: string): number;
}

/**
 * `base * 2^failures`, capped at `max` (client-go: 5 ms doubling to 1000 s). A key that
 * keeps failing settles at the cap instead of storming the API server.
 */
export class ItemExponentialFailureRateLimiter implements RateLimiter {
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly baseMs = 5,
    private readonly maxMs = 1_000_000,
  ) {}

  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    return backoffDelay(n, { initialMs: this.baseMs, maxMs: this.maxMs });
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}

/**
 * An overall token bucket (client-go: 10 qps, burst 100) shared by every key: each call
 * reserves one token and returns how long until that token exists.
 */
export class BucketRateLimiter implements RateLimiter {
  private readonly bucket: TokenBucket;

  constructor(clock: Clock, qps = 10, burst = 100) {
    this.bucket = new TokenBucket(qps, burst, () => clock.now());
  }

  when(_key: string): number {
    // A negative balance is a reservation: the caller waits until it is paid back.
    return this.bucket.reserve();
  }

  forget(_key: string): void {}

  numRequeues(_key: string): number {
    return 0;
  }
}

/** The longest delay any of its limiters asks for. */
export class MaxOfRateLimiter implements RateLimiter {
  private readonly limiters: RateLimiter[];

  constructor(...limiters: RateLimiter[]) {
    this.limiters = limiters;
  }

  when(key: string): number {
    return Math.max(0, ...this.limiters.map((l) => l.when(key)));
  }

  forget(key: string): void {
    for (const l of this.limiters) l.forget(key);
  }

  numRequeues(key: string): number {
    return Math.max(0, ...this.limiters.map((l) => l.numRequeues(key)));
  }
}

/** client-go's default controller limiter: per-key 5 ms..1000 s backoff, overall 10 qps / 100 burst. */
export function defaultControllerRateLimiter(clock: Clock): RateLimiter {
  return new MaxOfRateLimiter(
    new ItemExponentialFailureRateLimiter(5, 1_000_000),
    new BucketRateLimiter(clock, 10, 100),
  );
}
