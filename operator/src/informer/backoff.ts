/**
 * Backoff for re-listing after a failed watch, after client-go's reflector: 800 ms doubling
 * to 30 s, with jitter so that many informers (or many operator replicas) that lost the
 * API server at the same moment do not come back in the same instant.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly initialMs = 800,
    private readonly maxMs = 30_000,
    private readonly jitter = 0.5,
    private readonly random: () => number = Math.random,
  ) {}

  /** The next delay (ms), growing with every call until {@link reset}. */
  next(): number {
    const base = Math.min(this.initialMs * 2 ** this.attempt, this.maxMs);
    this.attempt++;
    return Math.round(base * (1 + this.jitter * this.random()));
  }

  reset(): void {
    this.attempt = 0;
  }
}
