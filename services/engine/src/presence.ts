/** Reads the presence hashes the gateways write (see services/gateway/src/presence.ts). */
import type { Redis } from 'ioredis';
import { LRUCache } from '@gossip/limits';
import { presenceKey as presenceKeyOf } from '@gossip/protocol';

/** The full presence key of `username` under the deployment's Redis prefix. */
function presenceKey(prefix: string, username: string): string {
  return prefix + presenceKeyOf(username);
}

/** The gateway instances holding a live connection of `username` right now. */
export async function lookupPresence(
  redis: Redis,
  prefix: string,
  username: string,
  now = Date.now(),
): Promise<string[]> {
  const fields = await redis.hgetall(presenceKey(prefix, username));
  return Object.entries(fields)
    .filter(([, until]) => Number(until) > now)
    .map(([instance]) => instance);
}

/** Users whose answer is remembered at most (the least recently used go first). */
const CACHE_MAX = 50_000;

/** A read in flight; `forgotten` once a connect of its user came after it started. */
interface Reading {
  read: Promise<string[]>;
  forgotten: boolean;
}

/**
 * Presence answers for the live push of a send: lookups of one user while a read of it is
 * in flight share that read, and an answer naming at least one gateway is kept for `ttlMs`,
 * so a busy recipient costs about one `HGETALL` per `ttlMs` rather than one per message.
 *
 * Why a stale answer cannot lose a message: the message is stored before its presence is
 * looked up, so whatever the answer, it is in MongoDB with a `dueAt` (now + the redelivery
 * timeout). A connection missing from the answer either (1) existed before the answer was
 * read, which cannot be, since the answer would name its gateway (a gateway claims presence
 * before it asks for the replay); or (2) claimed presence after the read began: its
 * gateway then publishes `connected` after the claim, and if the replay's store read comes
 * after the insert, the replay sends it; if it came before, the `connected` was handled
 * before the lookup, and when this engine handled it, {@link forget} had dropped the cached
 * answer and detached the read in flight, so the lookup read anew and found the new gateway.
 * What is left is a `connected` handled by another engine: then the message waits for the
 * redelivery scan (its own fresh lookup, not cached), at most `ENGINE_REDELIVERY_SECONDS`
 * plus one scan interval after it was stored (31 s by default), and only when the recipient
 * gained a connection on another gateway within `ttlMs` of an answer that did not name it.
 * A push to a gateway the recipient has left is dropped there and found by the same scan.
 * (If the recipient is also connected elsewhere and that connection acks the message first,
 * the ack deletes it and the new connection does not get it: one user, two connections.)
 * Empty answers (offline) are never kept, so a recipient coming online is never missed for
 * longer than one read in flight.
 */
export class PresenceCache {
  private readonly kept: LRUCache<string, string[]> | undefined;
  private readonly reading = new Map<string, Reading>();

  constructor(
    private readonly lookup: (user: string) => Promise<string[]>,
    /** `ENGINE_PRESENCE_CACHE_MS`; 0 keeps nothing (reads in flight are still shared). */
    ttlMs: number,
  ) {
    this.kept = ttlMs > 0 ? new LRUCache({ max: CACHE_MAX, ttl: ttlMs }) : undefined;
  }

  /** The gateways holding `user`, possibly as read up to `ttlMs` ago; rejects as the read. */
  get(user: string): Promise<string[]> {
    const kept = this.kept?.get(user);
    if (kept) return Promise.resolve(kept);
    const inflight = this.reading.get(user);
    if (inflight) return inflight.read;
    const entry: Reading = { read: this.lookup(user), forgotten: false };
    this.reading.set(user, entry);
    const done = (): void => {
      if (this.reading.get(user) === entry) this.reading.delete(user);
    };
    entry.read.then((gws) => {
      done();
      if (gws.length > 0 && !entry.forgotten) this.kept?.set(user, gws);
    }, done);
    return entry.read;
  }

  /** `user` (re)connected somewhere: the next lookup reads Redis anew. */
  forget(user: string): void {
    this.kept?.delete(user);
    const inflight = this.reading.get(user);
    if (inflight) {
      inflight.forgotten = true;
      this.reading.delete(user);
    }
  }
}
