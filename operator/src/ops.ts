/**
 * The operator's ops listener: servicekit's (`/healthz`, `/readyz`, `/metrics`, the same
 * hardening as every service's) with one readiness check, `controllers`: ready for a
 * standby that is campaigning, and for a leader whose informer caches have synced.
 */
import { createOpsServer, type Logger, type OpsServer, type Registry } from '@gossip/servicekit';
import type { HttpTimeouts } from '@gossip/servicekit';

/**
 * The ops listener serving `registry`; `controllers()` returns `'ok'` when the operator can
 * do its job, else why not (`'caches not synced'`). A check that throws answers 500.
 */
export function operatorOps(
  registry: Registry,
  controllers: () => string,
  opts: { log?: Logger; timeouts?: HttpTimeouts } = {},
): OpsServer {
  return createOpsServer({
    registry,
    checks: () => ({ controllers: controllers() }),
    ...(opts.log ? { log: opts.log } : {}),
    ...(opts.timeouts ? { timeouts: opts.timeouts } : {}),
  });
}
