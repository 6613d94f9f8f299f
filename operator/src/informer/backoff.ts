/**
 * Backoff for re-listing after a failed watch, after client-go's reflector: 800 ms doubling
 * to 30 s, with jitter so that many informers (or many operator replicas) that lost the
 * API server at the same moment do not come back in the same instant. The delays are
 * @gossip/limits' (proportional jitter); this keeps the reflector's defaults.
 */
import { Backoff as SharedBackoff } from '@gossip/limits';

export class Backoff {
  private readonly backoff: SharedBackoff;

  constructor(initialMs = 800, maxMs = 30_000, jitter = 0.5, random: () => number = Math.random) {
    this.backoff = new SharedBackoff({ initialMs, maxMs, jitter, random });
  }

  /** The next delay (ms), growing with every call until {@link reset}. */
  next(): number {
    return this.backoff.next();
  }

  reset(): void {
    this.backoff.reset();
  }
}
