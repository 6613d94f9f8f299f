/**
 * Who may message whom, from the api's contact documents (see @gossip/store's
 * `sendDecision`), with a short cache of allowed pairs.
 */
import type { SendDecision } from '@gossip/protocol';
import { sendDecision, type SharedCollections } from '@gossip/store';

/** Pairs remembered at most; the cache is cleared when full (refusals are never cached). */
const CACHE_MAX = 50_000;

export class Permissions {
  /** Pairs recently found allowed to message: `from>to` -> valid until (ms). */
  private readonly okCache = new Map<string, number>();

  constructor(
    private readonly c: SharedCollections,
    /** `ENGINE_PERMISSION_CACHE_MS`; 0 turns the cache off. */
    private readonly cacheMs: number,
  ) {}

  /**
   * An `ok` is remembered for `cacheMs` (1 s by default) per pair, which halves the
   * MongoDB reads of a busy conversation; refusals are never cached, and a block takes
   * effect within that time.
   */
  async check(from: string, to: string): Promise<SendDecision | 'unknown'> {
    const key = `${from}>${to}`;
    const hit = this.okCache.get(key);
    if (hit !== undefined && hit > Date.now()) return 'ok';
    const decision = await sendDecision(this.c, from, to);
    if (decision === 'ok' && this.cacheMs > 0) {
      if (this.okCache.size >= CACHE_MAX) this.okCache.clear();
      this.okCache.set(key, Date.now() + this.cacheMs);
    } else {
      this.okCache.delete(key);
    }
    return decision;
  }
}
