/**
 * Fixed-window rate limits in Redis: one counter per (limit, subject, window), created
 * with its expiry in one atomic script, so every api replica shares the same counts.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RateLimit } from './config.js';

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

export class RateLimiter {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.redis = redis;
    this.prefix = prefix;
  }

  /**
   * Counts one hit of `subject` against `limit` and says whether it is within it. The
   * subject is hashed into the key, so usernames and IPs never sit in Redis in clear.
   */
  async hit(name: string, subject: string, limit: RateLimit): Promise<LimitResult> {
    const digest = createHash('sha256').update(subject).digest('base64url').slice(0, 22);
    const key = `${this.prefix}rl:${name}:${digest}`;
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
