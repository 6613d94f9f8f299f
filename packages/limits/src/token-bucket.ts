/**
 * A token bucket: `burst` tokens, refilled continuously at `perSecond`. The gateway's
 * per-connection frame limit, the SDK's own frame budget (so it stays under the
 * gateway's) and the operator's overall work-queue limit are this one bucket.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  /**
   * @param perSecond tokens added per second
   * @param burst the most tokens held (and the start balance)
   * @param now the clock, in ms (injected in tests)
   */
  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!(perSecond > 0) || !(burst >= 1)) {
      throw new Error(
        `a token bucket needs perSecond > 0 and burst >= 1, not ${perSecond}/${burst}`,
      );
    }
    this.tokens = burst;
    this.last = now();
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.perSecond);
    this.last = t;
  }

  /** Takes one token if there is one; returns whether it did. */
  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /**
   * Takes one token whether or not it exists yet, and returns how long (ms) until it does:
   * 0 while the bucket has tokens; a negative balance is a reservation paid back by the
   * refill (client-go's `BucketRateLimiter`).
   */
  reserve(): number {
    this.refill();
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.perSecond) * 1000;
  }

  /** How long (ms) until the next token, at least 5 (so a waiting caller never spins). */
  msUntilNext(): number {
    this.refill();
    return Math.max(5, Math.ceil(((1 - this.tokens) / this.perSecond) * 1000));
  }
}
