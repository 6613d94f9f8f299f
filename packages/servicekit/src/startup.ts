/**
 * Store connections at start. On Kubernetes a service pod often starts before its stores
 * answer (the real test node showed engines and gateways exiting on `ECONNREFUSED` to Redis
 * and restarting into CrashLoopBackOff until Redis was up). A service waits for its stores
 * instead: not ready, not listening, logging why, until they answer or it is told to stop.
 */
import type { Logger } from './logger.js';

/** The part of an ioredis client used here (structural, so servicekit needs no ioredis). */
export interface RedisLike {
  readonly status: string;
  connect(): Promise<unknown>;
  once(event: 'ready', listener: () => void): unknown;
}

/**
 * Resolves once the client is ready. A lazily connecting ioredis client whose first
 * attempt fails keeps reconnecting by its retry strategy (the default never gives up), so
 * this only starts it and waits for `ready`; its `error` events are the caller's to log.
 */
export function redisReady(redis: RedisLike, log: Logger, name = 'redis'): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  const ready = new Promise<void>((resolve) => {
    redis.once('ready', () => resolve());
  });
  if (redis.status === 'wait') {
    redis.connect().catch((err: unknown) => {
      log.warn(
        { err: { message: err instanceof Error ? err.message : String(err) } },
        `${name} not reachable yet; waiting for it`,
      );
    });
  }
  return ready;
}

/**
 * Runs `connect` until it succeeds, `retryMs` apart, unless `stopped()` turns true (then
 * it rejects). For clients such as the MongoDB driver's, which give up after one attempt.
 */
export async function connectUntil(
  what: string,
  connect: () => Promise<unknown>,
  opts: { log: Logger; stopped: () => boolean; retryMs?: number },
): Promise<void> {
  for (;;) {
    try {
      await connect();
      return;
    } catch (err) {
      if (opts.stopped()) throw err;
      const retryMs = opts.retryMs ?? 2000;
      opts.log.warn(
        { err: { message: err instanceof Error ? err.message : String(err) }, retryMs },
        `${what} not reachable yet; retrying`,
      );
      await new Promise((r) => setTimeout(r, retryMs));
    }
  }
}
