/**
 * Connection caps, checked at the upgrade before a WebSocket opens: open connections per
 * user (summed over every gateway through Redis, {@link UserConnectionCounts}) and per
 * client address, and upgrade attempts per address in a fixed window (both this gateway's
 * own counts). The gateway answers 429.
 */
import type { Redis } from 'ioredis';
import { userConnsKey as userConnsKeyOf } from '@gossip/protocol';

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

/**
 * Adds this gateway's count for a user and admits one more connection when the sum over
 * every live gateway stays within the cap. Each gateway keeps one field of the user's hash,
 * `<count>:<until ms>`; fields past their time (a dead gateway) are ignored, and the whole
 * key expires with the heartbeat TTL.
 */
const USER_ADMIT = `
local now = tonumber(ARGV[1])
local total = tonumber(ARGV[3])
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if all[i] ~= ARGV[2] then
    local c, u = string.match(all[i + 1], '^(%d+):(%d+)$')
    if c and tonumber(u) > now then total = total + tonumber(c) end
  end
end
if total > tonumber(ARGV[4]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3] .. ':' .. ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 1
`;

/** Redis key of a user's per-gateway connection counts. */
export function userConnsKey(prefix: string, username: string): string {
  return prefix + userConnsKeyOf(username);
}

/** Users refreshed per Redis pipeline, as presence does. */
const REFRESH_BATCH = 500;

/**
 * The per-user cap across every gateway: the counts live in Redis, so a user cannot hold
 * the cap on each of N gateways. Refreshed with the presence heartbeat.
 */
export class UserConnectionCounts {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly instanceId: string,
    private readonly ttlSeconds: number,
    private readonly cap: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether `user` may hold `localAfter` connections here, given the other gateways'. */
  async admit(user: string, localAfter: number): Promise<boolean> {
    const t = this.now();
    const ok = (await this.redis.eval(
      USER_ADMIT,
      1,
      userConnsKey(this.prefix, user),
      String(t),
      this.instanceId,
      String(localAfter),
      String(this.cap),
      String(t + this.ttlSeconds * 1000),
      String(this.ttlSeconds * 1000),
    )) as number;
    return ok === 1;
  }

  /** Records this gateway's current count for `user` (0 removes its field). */
  async set(user: string, local: number): Promise<void> {
    const key = userConnsKey(this.prefix, user);
    if (local === 0) await this.redis.hdel(key, this.instanceId);
    else
      await this.redis.hset(
        key,
        this.instanceId,
        `${local}:${this.now() + this.ttlSeconds * 1000}`,
      );
  }

  /** Re-states every local count so the fields outlive the next TTL. */
  async refresh(counts: ReadonlyArray<readonly [string, number]>): Promise<void> {
    const until = this.now() + this.ttlSeconds * 1000;
    for (let from = 0; from < counts.length; from += REFRESH_BATCH) {
      const p = this.redis.pipeline();
      for (const [user, n] of counts.slice(from, from + REFRESH_BATCH)) {
        const key = userConnsKey(this.prefix, user);
        p.hset(key, this.instanceId, `${n}:${until}`);
        p.pexpire(key, this.ttlSeconds * 1000);
      }
      await p.exec();
    }
  }
}
