/**
 * Who may message whom, from the api's contact documents (see @gossip/store's
 * `sendDecision`), with a short cache of allowed pairs.
 */
import { LRUCache } from '@gossip/limits';
import type { SendDecision } from '@gossip/protocol';
import { sendDecision, type SharedCollections } from '@gossip/store';

/** Allowed pairs remembered at most (the least recently used go first). */
const CACHE_MAX = 50_000;

export class Permissions {
  /** Pairs recently found allowed to message (`from>to`), each for `cacheMs`. */
  private readonly okCache: LRUCache<string, true> | undefined;
  /**
   * Reads in flight, by pair: sends of one pair that arrive while its read is out share it,
   * so a busy pair costs one read (one `find`) per `cacheMs`, not one per send that
   * arrives during the read after the cached `ok` expired.
   */
  private readonly reading = new Map<string, Promise<SendDecision | 'unknown'>>();

  constructor(
    private readonly c: SharedCollections,
    /** `ENGINE_PERMISSION_CACHE_MS`; 0 turns the cache off. */
    cacheMs: number,
  ) {
    this.okCache = cacheMs > 0 ? new LRUCache({ max: CACHE_MAX, ttl: cacheMs }) : undefined;
  }

  /**
   * An `ok` is remembered for `cacheMs` (1 s by default) per pair, which halves the
   * MongoDB reads of a busy conversation; refusals are never cached, and a block takes
   * effect within that time (and the read in flight when it happened). With the cache on,
   * checks of a pair arriving while its read is out share that read.
   */
  check(from: string, to: string): Promise<SendDecision | 'unknown'> {
    const key = `${from}>${to}`;
    if (this.okCache?.get(key)) return Promise.resolve('ok');
    if (!this.okCache) return sendDecision(this.c, from, to);
    const inflight = this.reading.get(key);
    if (inflight) return inflight;
    const read = sendDecision(this.c, from, to)
      .then((decision) => {
        if (decision === 'ok') this.okCache?.set(key, true);
        else this.okCache?.delete(key);
        return decision;
      })
      .finally(() => this.reading.delete(key));
    this.reading.set(key, read);
    return read;
  }
}
