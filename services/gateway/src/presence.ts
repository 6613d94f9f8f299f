/**
 * Presence in Redis: one hash per user, `<prefix>presence:<username>`, whose fields are the
 * gateway instances holding a connection of that user and whose values are the time (ms)
 * until which that claim holds. The key's TTL is refreshed with every heartbeat, so a dead
 * gateway's claims vanish on their own; engines ignore fields past their time.
 */
import type { Redis } from 'ioredis';
import { PRESENCE_PUSHES_MARK, presenceKey as presenceKeyOf } from '@gossip/protocol';

/** Users claimed per Redis pipeline. */
const CLAIM_BATCH = 500;

/** The full presence key of `username` under the deployment's Redis prefix. */
export function presenceKey(prefix: string, username: string): string {
  return prefix + presenceKeyOf(username);
}

export class Presence {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly instanceId: string,
    private readonly ttlSeconds: number,
  ) {}

  /**
   * Claims `users` for this instance. Returns the users whose claim had disappeared (a Redis
   * flush or restart, or an expiry): their pending messages must be replayed.
   */
  async claim(users: readonly string[]): Promise<string[]> {
    // With the mark: this gateway takes `pushes` (several frames in one bus message).
    const until = String(Date.now() + this.ttlSeconds * 1000) + PRESENCE_PUSHES_MARK;
    const lost: string[] = [];
    // In slices, one pipeline after the other: a heartbeat of every user at once would hold
    // two commands and their replies per user in memory at the same time.
    for (let from = 0; from < users.length; from += CLAIM_BATCH) {
      const batch = users.slice(from, from + CLAIM_BATCH);
      const p = this.redis.pipeline();
      for (const u of batch) {
        const key = presenceKey(this.prefix, u);
        p.hset(key, this.instanceId, until);
        p.pexpire(key, this.ttlSeconds * 1000);
      }
      const results = (await p.exec()) ?? [];
      batch.forEach((u, i) => {
        const [err, created] = results[i * 2] ?? [null, 0];
        if (err) throw err;
        if (created === 1) lost.push(u);
      });
    }
    return lost;
  }

  /** Drops this instance's claim on `username` (its last local connection closed). */
  async release(username: string): Promise<void> {
    await this.redis.hdel(presenceKey(this.prefix, username), this.instanceId);
  }
}
