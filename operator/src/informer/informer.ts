/**
 * An informer: a local cache of one resource type kept current by list + watch, and a
 * callback for every change. It is built to survive what kills naive watch loops:
 *
 * - the watch ends (server timeout, ECONNRESET, proxy cut): it re-watches from the last
 *   resourceVersion it saw; a stream that ends at once without any event counts as an error;
 * - the resourceVersion is too old (410 Gone, as an HTTP status or an ERROR event): it
 *   re-lists, and reports objects that vanished meanwhile as deleted;
 * - the API server is unreachable: it retries the list with jittered backoff (800 ms..30 s);
 * - a stream that stays silent: each watch has a server-side timeout and a client-side
 *   watchdog slightly later, so it can never hang forever.
 *
 * It never exits the process; `stop()` ends it.
 *
 * Why not @kubernetes/client-node's informer (`makeInformer`/`ListWatch`, 1.4.0, read in
 * its dist/cache.js): after any watch failure but 410 it emits an error and stops, leaving
 * the restart and its backoff to every caller; it lists in one unpaged call, watches
 * without bookmarks or a timeout and has no watchdog, no resync and no "has synced", which
 * the leader needs before it starts workers. Those are the parts above, so we keep ours.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../logger.js';
import { describeError, isGone } from '../kube/errors.js';
import { Backoff } from './backoff.js';
import type { ListWatchSource, WatchEvent } from './source.js';

export type ChangeType = 'added' | 'updated' | 'deleted' | 'resync';
export type ChangeHandler = (obj: KubernetesObject, type: ChangeType) => void;

export interface InformerOptions {
  source: ListWatchSource;
  onChange: ChangeHandler;
  logger: Logger;
  /** Calls `onChange(obj, 'resync')` for every cached object this often; 0 disables. */
  resyncMs?: number;
  backoff?: Backoff;
  /** Aborts a watch that has been silent this long (ms). @default 11 minutes */
  watchdogMs?: number;
  /** A watch that ends cleanly sooner than this without events counts as a failure. */
  minWatchMs?: number;
}

/** `namespace/name`, or `name` for cluster-scoped objects. */
export function objectKey(obj: KubernetesObject): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? '';
  return ns ? `${ns}/${name}` : name;
}

export class Informer {
  private readonly store = new Map<string, KubernetesObject>();
  private readonly stopper = new AbortController();
  private readonly backoff: Backoff;
  private synced = false;
  private running: Promise<void> | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private abortWatch: (() => void) | undefined;

  constructor(private readonly opts: InformerOptions) {
    this.backoff = opts.backoff ?? new Backoff();
  }

  get description(): string {
    return this.opts.source.description;
  }

  /** True once the first list has been loaded into the cache. */
  hasSynced(): boolean {
    return this.synced;
  }

  get(key: string): KubernetesObject | undefined {
    return this.store.get(key);
  }

  list(): KubernetesObject[] {
    return [...this.store.values()];
  }

  start(): void {
    if (this.running) return;
    this.running = this.run();
    const resyncMs = this.opts.resyncMs ?? 0;
    if (resyncMs > 0) {
      this.resyncTimer = setInterval(() => {
        for (const obj of this.store.values()) this.opts.onChange(obj, 'resync');
      }, resyncMs);
      this.resyncTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopper.abort();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.abortWatch?.();
    await this.running;
  }

  private get stopped(): boolean {
    return this.stopper.signal.aborted;
  }

  private async pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.stopper.signal }).catch(() => undefined);
  }

  private async run(): Promise<void> {
    const log = this.opts.logger;
    while (!this.stopped) {
      let resourceVersion: string;
      try {
        resourceVersion = await this.relist();
      } catch (err) {
        const wait = this.backoff.next();
        log.warn(
          { source: this.description, err: describeError(err), retryMs: wait },
          'list failed',
        );
        await this.pause(wait);
        continue;
      }
      // Watch until the resourceVersion is gone or the watch fails, then list again.
      for (;;) {
        if (this.stopped) return;
        const outcome = await this.watchOnce(resourceVersion);
        if (this.stopped) return;
        resourceVersion = outcome.resourceVersion;
        if (outcome.kind === 'closed') {
          log.debug({ source: this.description }, 'watch closed by server; re-watching');
          continue;
        }
        if (outcome.kind === 'gone') {
          log.info({ source: this.description }, 'resourceVersion too old; re-listing');
          break;
        }
        const wait = this.backoff.next();
        log.warn(
          { source: this.description, err: describeError(outcome.err), retryMs: wait },
          'watch failed; re-listing after backoff',
        );
        await this.pause(wait);
        break;
      }
    }
  }

  /** Lists everything, replaces the cache and reports the differences. */
  private async relist(): Promise<string> {
    const { items, resourceVersion } = await this.opts.source.list();
    const seen = new Set<string>();
    for (const obj of items) {
      const key = objectKey(obj);
      seen.add(key);
      const old = this.store.get(key);
      this.store.set(key, obj);
      if (!old) this.opts.onChange(obj, 'added');
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) {
        this.opts.onChange(obj, 'updated');
      }
    }
    for (const [key, obj] of this.store) {
      if (!seen.has(key)) {
        this.store.delete(key);
        this.opts.onChange(obj, 'deleted');
      }
    }
    this.synced = true;
    this.backoff.reset();
    return resourceVersion;
  }

  private watchOnce(
    startVersion: string,
  ): Promise<{ kind: 'closed' | 'gone' | 'failed'; resourceVersion: string; err?: unknown }> {
    return new Promise((resolve) => {
      let resourceVersion = startVersion;
      let events = 0;
      let gone = false;
      let settled = false;
      const started = Date.now();
      const watchdogMs = this.opts.watchdogMs ?? 11 * 60_000;
      let watchdog: NodeJS.Timeout | undefined;
      const arm = (): void => {
        if (watchdog) clearTimeout(watchdog);
        watchdog = setTimeout(() => {
          this.opts.logger.warn({ source: this.description }, 'watch silent too long; aborting');
          this.abortWatch?.();
          finish(new Error('watch watchdog expired'));
        }, watchdogMs);
        watchdog.unref();
      };
      const onStop = (): void => {
        this.abortWatch?.();
        finish(null);
      };
      const finish = (err: unknown): void => {
        if (settled) return;
        settled = true;
        this.stopper.signal.removeEventListener('abort', onStop);
        if (watchdog) clearTimeout(watchdog);
        this.abortWatch = undefined;
        if (gone || isGone(err)) resolve({ kind: 'gone', resourceVersion });
        else if (err) resolve({ kind: 'failed', resourceVersion, err });
        else if (events === 0 && Date.now() - started < (this.opts.minWatchMs ?? 1000)) {
          resolve({ kind: 'failed', resourceVersion, err: new Error('watch closed at once') });
        } else resolve({ kind: 'closed', resourceVersion });
      };
      const onEvent = (event: WatchEvent): void => {
        if (settled) return;
        arm();
        events++;
        if (event.type === 'ERROR') {
          if (event.object.code === 410) gone = true;
          return;
        }
        const rv = event.object.metadata?.resourceVersion;
        if (rv) resourceVersion = rv;
        if (event.type === 'BOOKMARK') return;
        this.apply(event);
      };
      this.stopper.signal.addEventListener('abort', onStop);
      arm();
      this.opts.source.watch(startVersion, onEvent, finish).then(
        (abort) => {
          if (settled) abort();
          else this.abortWatch = abort;
        },
        (err: unknown) => finish(err),
      );
    });
  }

  private apply(event: WatchEvent): void {
    const obj = event.object;
    const key = objectKey(obj);
    if (event.type === 'DELETED') {
      this.store.delete(key);
      this.opts.onChange(obj, 'deleted');
      return;
    }
    const existed = this.store.has(key);
    this.store.set(key, obj);
    this.opts.onChange(obj, existed ? 'updated' : 'added');
  }
}
