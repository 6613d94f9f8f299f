/**
 * Promise chains keyed by a name (a sender): jobs under one key run one after another in
 * the order they were chained; jobs under different keys run concurrently.
 */

/**
 * Returns `p` after marking its rejection as handled for now: for a promise awaited only
 * later (after other awaits), whose early failure must not count as "unhandled".
 */
export function settledLater<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/** One promise chain per key; a key's entry goes once its last job has settled. */
export class KeyedChains {
  private readonly chains = new Map<string, Promise<void>>();

  /** Runs `job` after every job chained before under `key` has settled (either way). */
  run<T>(key: string, job: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev.then(job, job);
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(key, tail);
    void tail.then(() => {
      if (this.chains.get(key) === tail) this.chains.delete(key);
    });
    return next;
  }
}
