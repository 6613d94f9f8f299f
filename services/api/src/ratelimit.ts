/**
 * Rate limits in Redis, shared by every api replica: fixed windows (one counter per
 * limit, subject and window, created with its expiry in one atomic script) and the
 * login throttle, a progressive delay per (username, client address).
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { rateLimitKey } from '@gossip/protocol';
import type { LoginThrottleConfig, RateLimit } from './config.js';
import { ApiError } from './errors.js';
import type { ApiMetrics, RateLimitName } from './metrics.js';

const SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
return {n, ttl}
`;

export interface LimitResult {
  allowed: boolean;
  count: number;
  /** Seconds until the window resets. */
  retryAfter: number;
}

/**
 * One login attempt against the throttle. Refused while the delay earned by earlier
 * failures runs; otherwise counted, and from the `freeAttempts`-th on it already sets the
 * next delay (base * 2^k, capped), so concurrent guesses cannot slip in before the
 * failure is known. A success deletes the key. Redis returns `{allowed, waitMs}`.
 */
const LOGIN_ATTEMPT = `
local now = tonumber(ARGV[1])
local untilMs = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if now < untilMs then return {0, untilMs - now} end
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
local free = tonumber(ARGV[2])
if n >= free then
  local delay = math.min(tonumber(ARGV[3]) * (2 ^ (n - free)), tonumber(ARGV[4]))
  redis.call('HSET', KEYS[1], 'until', now + delay)
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {1, 0}
`;

/** Hashes a subject so usernames and addresses never sit in Redis in clear. */
function digest(subject: string): string {
  return createHash('sha256').update(subject).digest('base64url').slice(0, 22);
}

export class RateLimiter {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly metrics: ApiMetrics | undefined;

  constructor(redis: Redis, prefix: string, metrics?: ApiMetrics) {
    this.redis = redis;
    this.prefix = prefix;
    this.metrics = metrics;
  }

  /**
   * Counts one hit like {@link hit} and throws `rate_limited` (with `Retry-After`) when
   * it is over the limit, counting the refusal under `name` in the metrics.
   */
  async enforce(name: RateLimitName, subject: string, limit: RateLimit): Promise<void> {
    const r = await this.hit(name, subject, limit);
    if (r.allowed) return;
    this.metrics?.rateLimited.inc({ limit: name });
    throw new ApiError('rate_limited', undefined, { retryAfter: r.retryAfter });
  }

  /**
   * One login attempt for `username` from `address`: throws `rate_limited` while that
   * pair's progressive delay runs. Keyed on the pair, so a stranger's failures from their
   * address never delay the owner at theirs. Call {@link loginSucceeded} after a success.
   */
  async loginAttempt(
    username: string,
    address: string,
    cfg: LoginThrottleConfig,
    now: number,
  ): Promise<void> {
    const [allowed, waitMs] = (await this.redis.eval(
      LOGIN_ATTEMPT,
      1,
      this.loginKey(username, address),
      String(now),
      String(cfg.freeAttempts),
      String(cfg.baseDelaySeconds * 1000),
      String(cfg.maxDelaySeconds * 1000),
      String(cfg.memorySeconds * 1000),
    )) as [number, number];
    if (allowed === 1) return;
    this.metrics?.rateLimited.inc({ limit: 'login_user_address' });
    throw new ApiError('rate_limited', undefined, {
      retryAfter: Math.max(1, Math.ceil(waitMs / 1000)),
    });
  }

  /** Forgets the failures of `username` at `address`: the right password was given. */
  async loginSucceeded(username: string, address: string): Promise<void> {
    await this.redis.del(this.loginKey(username, address));
  }

  private loginKey(username: string, address: string): string {
    // NUL cannot occur in a username, so the pair is unambiguous.
    return this.prefix + rateLimitKey('login_pair', digest(`${username}\0${address}`));
  }

  /**
   * Counts one hit of `subject` against `limit` and says whether it is within it. The
   * subject is hashed into the key, so usernames and IPs never sit in Redis in clear.
   */
  async hit(name: string, subject: string, limit: RateLimit): Promise<LimitResult> {
    const key = this.prefix + rateLimitKey(name, digest(subject));
    const [count, ttl] = (await this.redis.eval(
      SCRIPT,
      1,
      key,
      String(limit.windowSeconds * 1000),
    )) as [number, number];
    return {
      allowed: count <= limit.max,
      count,
      retryAfter: Math.max(1, Math.ceil(ttl / 1000)),
    };
  }
}
