/**
 * When a cut transfer is worth resuming, and how long to keep trying. An api that is
 * restarting refuses connections or answers 5xx for a few seconds; a body cut half way
 * surfaces as a fetch `TypeError` or an abort. A 4xx is the server's answer and final.
 */
import { ApiError, NetworkError } from '../errors.js';

/** How a transfer retries. */
export interface ResumeOptions {
  /** Give up once no attempt succeeded for this long (ms). @default 60000 */
  resumeWithinMs?: number;
  /** Cancels the transfer. */
  signal?: AbortSignal;
}

/** Whether `err` (from a call or from reading a body) may pass if tried again. */
export function isTransient(err: unknown): boolean {
  if (err instanceof NetworkError) return true;
  if (err instanceof ApiError) return err.status >= 500 || err.status === 429;
  if (err instanceof TypeError) return true; // undici: "terminated", "fetch failed"
  const name = (err as { name?: unknown } | null)?.name;
  return name === 'AbortError' || name === 'TimeoutError';
}

/**
 * Runs `attempt` until it succeeds, throws something neither transient nor `retryAlso`,
 * or `resumeWithinMs` passes without progress (`progressed()`, asked after a failure,
 * says whether the failed attempt still moved data, which restarts that clock). Waits
 * 200 ms doubling to 5 s between attempts.
 */
export async function resuming<T>(
  attempt: () => Promise<T>,
  opts: ResumeOptions & { progressed?: () => boolean; retryAlso?: (err: unknown) => boolean },
): Promise<T> {
  const within = opts.resumeWithinMs ?? 60_000;
  let since = Date.now();
  let wait = 200;
  for (;;) {
    opts.signal?.throwIfAborted();
    try {
      return await attempt();
    } catch (err) {
      if (opts.signal?.aborted || !(isTransient(err) || opts.retryAlso?.(err))) throw err;
      if (opts.progressed?.()) {
        since = Date.now();
        wait = 200;
      }
      if (Date.now() - since > within) {
        throw new Error(`transfer gave up after ${within} ms without progress`, { cause: err });
      }
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, 5000);
    }
  }
}
