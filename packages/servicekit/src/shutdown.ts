/**
 * Graceful shutdown: on SIGTERM or SIGINT run the service's stoppers in order (stop taking
 * traffic first, then consumers, then connections) within one deadline, then exit.
 */
import type { Logger } from 'pino';

/** One thing to stop. */
export interface Stopper {
  name: string;
  stop: () => unknown;
}

export interface StopResult {
  /** Every stopper finished without error before the deadline. */
  ok: boolean;
  timedOut: boolean;
  failed: string[];
}

/** Runs `stoppers` one after another; stops waiting after `timeoutMs` in total. */
export async function runStoppers(
  stoppers: readonly Stopper[],
  opts: { timeoutMs: number; logger?: Logger },
): Promise<StopResult> {
  const failed: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), opts.timeoutMs);
    timer.unref();
  });
  const all = (async () => {
    for (const s of stoppers) {
      try {
        await s.stop();
        opts.logger?.info({ stopper: s.name }, 'stopped');
      } catch (err) {
        failed.push(s.name);
        opts.logger?.error({ err, stopper: s.name }, 'stopper failed');
      }
    }
    return 'done' as const;
  })();
  const outcome = await Promise.race([all, deadline]);
  clearTimeout(timer);
  const timedOut = outcome === 'timeout';
  if (timedOut) opts.logger?.error({ timeoutMs: opts.timeoutMs }, 'shutdown timed out');
  return { ok: !timedOut && failed.length === 0, timedOut, failed };
}

export interface ShutdownOptions {
  logger: Logger;
  /** Deadline for all stoppers together. @default 10000 */
  timeoutMs?: number;
  /** @default ['SIGTERM', 'SIGINT'] */
  signals?: NodeJS.Signals[];
  /** Called with the exit code at the end; tests replace it. @default process.exit */
  exit?: (code: number) => void;
}

/**
 * Installs signal handlers that run {@link runStoppers} once and exit 0 (or 1 on a
 * failure or timeout). A second signal exits 1 at once. Returns `shutdown(reason)` for
 * programmatic use and `dispose()` to remove the handlers.
 */
export function installShutdown(
  stoppers: readonly Stopper[],
  opts: ShutdownOptions,
): { shutdown: (reason: string) => Promise<void>; dispose: () => void } {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  let running: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    if (running) {
      opts.logger.warn({ reason }, 'second shutdown request: exiting now');
      exit(1);
      return running;
    }
    opts.logger.info({ reason }, 'shutting down');
    running = runStoppers(stoppers, {
      timeoutMs: opts.timeoutMs ?? 10_000,
      logger: opts.logger,
    }).then((r) => {
      opts.logger.info({ ok: r.ok }, 'shutdown complete');
      opts.logger.flush?.();
      exit(r.ok ? 0 : 1);
    });
    return running;
  };
  const handler = (signal: NodeJS.Signals): void => void shutdown(signal);
  for (const s of signals) process.on(s, handler);
  return {
    shutdown,
    dispose: () => {
      for (const s of signals) process.off(s, handler);
    },
  };
}
