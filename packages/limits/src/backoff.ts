/**
 * Exponential backoff: `initialMs` doubling per attempt up to `maxMs`, with an optional
 * jitter so that many clients (or replicas) that failed at the same moment do not retry
 * in the same instant. One definition for the SDK's reconnect, the RabbitMQ link's
 * reconnect, the engine's requeue, the operator's re-list and work queue, and the chaos
 * client's token retry.
 */

/**
 * - `'none'`: exactly the capped delay.
 * - `'equal'`: between half and all of it (AWS's "equal jitter": spread out, never hammer).
 * - a number `f`: between the delay and `1 + f` times it (client-go's reflector: 0.5).
 */
export type Jitter = 'none' | 'equal' | number;

export interface BackoffOptions {
  /** The first delay (attempt 0), in ms. */
  initialMs: number;
  /** The largest delay before jitter, in ms. */
  maxMs: number;
  /** @default 'none' */
  jitter?: Jitter;
  /** @default Math.random (injected in tests) */
  random?: () => number;
}

/** The delay (ms, rounded) before retry number `attempt` (0 for the first retry). */
export function backoffDelay(attempt: number, opts: BackoffOptions): number {
  // 2^n is Infinity long after it passed any cap; the min keeps the result finite.
  const base = Math.min(opts.initialMs * 2 ** Math.max(0, attempt), opts.maxMs);
  const jitter = opts.jitter ?? 'none';
  if (jitter === 'none') return Math.round(base);
  const r = (opts.random ?? Math.random)();
  if (jitter === 'equal') return Math.round(base / 2 + (r * base) / 2);
  return Math.round(base * (1 + jitter * r));
}

/** {@link backoffDelay} with the attempt counted: each `next()` waits longer until `reset()`. */
export class Backoff {
  private count = 0;

  constructor(private readonly opts: BackoffOptions) {}

  /** Failed attempts since the last reset. */
  get attempt(): number {
    return this.count;
  }

  /** The next delay (ms); counts one more attempt. */
  next(): number {
    return backoffDelay(this.count++, this.opts);
  }

  reset(): void {
    this.count = 0;
  }
}
