/**
 * Liveness and readiness: outside `/v1`, not versioned; on the public and the ops listener
 * (`/metrics` is on the ops listener only, see ops.ts).
 */
import { HealthResponse } from '@gossip/protocol';
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.js';

const TIMEOUT_MS = 2000;

async function check(run: () => Promise<unknown>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      run(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
      }),
    ]);
    return 'ok';
  } catch (err) {
    return err instanceof Error ? err.message : 'failed';
  } finally {
    clearTimeout(timer);
  }
}

export function healthRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get(
    '/healthz',
    { logLevel: 'warn', schema: { tags: ['health'], response: { 200: HealthResponse } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      logLevel: 'warn',
      schema: { tags: ['health'], response: { 200: HealthResponse, 503: HealthResponse } },
    },
    async (_req, reply) => {
      const [mongodb, redis] = await Promise.all([
        check(() => ctx.db.command({ ping: 1 })),
        check(() => ctx.redis.ping()),
      ]);
      const ok = mongodb === 'ok' && redis === 'ok';
      return reply
        .status(ok ? 200 : 503)
        .send({ status: ok ? 'ok' : 'unavailable', checks: { mongodb, redis } });
    },
  );
}
