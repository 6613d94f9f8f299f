/**
 * The client's own frame budget: a token bucket shared by everything the `Messenger`
 * writes (sends, acks, signals), so the client stays under the gateway's per-connection
 * rate limit instead of being refused (and, past the violation limit, closed).
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.at = now();
  }

  /** Takes one token if there is one; returns whether it did. */
  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.ratePerSecond);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** How long (ms) until the next token, at least 5 (no busy loop). */
  msUntilNext(): number {
    return Math.max(5, Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000));
  }
}
