/**
 * Connection caps of one gateway, checked at the upgrade before a WebSocket opens: open
 * connections per user and per client address, and upgrade attempts per address in a
 * fixed window. Pure bookkeeping with an injected clock; the gateway answers 429.
 *
 * The counts are this gateway's own: with N gateways behind a balancer a user can hold at
 * most N times the per-user cap.
 */

export type CapRefusal = 'connect_rate' | 'address_cap' | 'user_cap';

/** Every refusal reason, for the metric's label values. */
export const CAP_REFUSALS: readonly CapRefusal[] = ['connect_rate', 'address_cap', 'user_cap'];

export interface CapLimits {
  perUser: number;
  perAddress: number;
  connectRate: { max: number; windowSeconds: number };
}

export class ConnectionCaps {
  private readonly byAddress = new Map<string, number>();
  /** Upgrade attempts per address in the current window; the map is dropped per window. */
  private attempts = new Map<string, number>();
  private windowEnds = 0;

  constructor(
    private readonly limits: CapLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Counts one upgrade attempt from `address` and says whether the address may connect:
   * under its attempt rate and its open-connection cap. Checked before the token, so a
   * flood costs no signature checks.
   */
  admitAddress(address: string): CapRefusal | null {
    const t = this.now();
    if (t >= this.windowEnds) {
      // A new window forgets every address at once, so the map never outgrows one window.
      this.attempts = new Map();
      this.windowEnds = t + this.limits.connectRate.windowSeconds * 1000;
    }
    const n = (this.attempts.get(address) ?? 0) + 1;
    this.attempts.set(address, n);
    if (n > this.limits.connectRate.max) return 'connect_rate';
    return this.addressFull(address) ? 'address_cap' : null;
  }

  /** Whether `address` holds its cap of open connections. */
  addressFull(address: string): boolean {
    return (this.byAddress.get(address) ?? 0) >= this.limits.perAddress;
  }

  /** Whether a user holding `open` connections may open another. */
  userFull(open: number): boolean {
    return open >= this.limits.perUser;
  }

  /** Seconds until the attempt window resets, for `Retry-After`. */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil((this.windowEnds - this.now()) / 1000));
  }

  opened(address: string): void {
    this.byAddress.set(address, (this.byAddress.get(address) ?? 0) + 1);
  }

  closed(address: string): void {
    const n = (this.byAddress.get(address) ?? 0) - 1;
    if (n > 0) this.byAddress.set(address, n);
    else this.byAddress.delete(address);
  }
}
