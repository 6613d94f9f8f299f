/**
 * The ops listener every long-running Gossip process serves beside its real work:
 * `/healthz` (the process is alive), `/readyz` (it can do its job, with one named check
 * per dependency) and `/metrics` (its prom-client registry). It carries the hardening of
 * ./http.ts: short request timeouts, a JSON 4xx for what Node's parser refuses, and a
 * handler whose failures answer 500 instead of ending the process.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { ERRORS } from '@gossip/protocol';
import {
  DEFAULT_HTTP_TIMEOUTS,
  guardRequests,
  onClientError,
  serverOptions,
  type GuardLogger,
  type HttpTimeouts,
} from './http.js';

/**
 * The readiness checks by name: `'ok'` for a check that passes, anything else (`'down'`,
 * `'stopping'`, a client's status) says why it does not. Ready when every check is `'ok'`.
 */
export type ReadinessChecks = () => Record<string, string> | Promise<Record<string, string>>;

/** What {@link createOpsServer} serves. */
export interface OpsServerOptions {
  /** Served at `/metrics`. */
  registry: Registry;
  /** Run on every `/readyz`; a check that throws answers 500, the process keeps serving. */
  checks: ReadinessChecks;
  /** @default DEFAULT_HTTP_TIMEOUTS */
  timeouts?: HttpTimeouts;
  /** Where handler failures are reported. */
  log?: GuardLogger;
}

/** A started-on-demand ops listener; see {@link createOpsServer}. */
export interface OpsServer {
  /** Listens on `port` (0 for any) and `host`; resolves with the bound port. */
  start(port: number, host: string): Promise<number>;
  /** The bound port (0 before {@link start}). */
  readonly port: number;
  /** Stops listening and closes open connections (probes are short; none is worth waiting for). */
  stop(): Promise<void>;
}

/** The request's path without its query. */
export function pathOf(req: IncomingMessage): string {
  return (req.url ?? '/').split('?')[0] ?? '/';
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** Answers 404 with the catalog's `not_found` body. */
export function notFound(res: ServerResponse): void {
  json(res, 404, { error: { code: 'not_found', message: ERRORS.not_found.message } });
}

/**
 * Answers `/healthz` (200 `{status:'ok'}`) and `/readyz` (200 or 503
 * `{status:'ok'|'unavailable', checks}`); resolves false, answering nothing, for any other
 * path. For a public port that serves the probes too (the gateway's, for load balancers).
 */
export async function answerProbe(
  req: IncomingMessage,
  res: ServerResponse,
  checks: ReadinessChecks,
): Promise<boolean> {
  const path = pathOf(req);
  if (path === '/healthz') {
    json(res, 200, { status: 'ok' });
    return true;
  }
  if (path !== '/readyz') return false;
  const results = await checks();
  const ok = Object.values(results).every((v) => v === 'ok');
  json(res, ok ? 200 : 503, { status: ok ? 'ok' : 'unavailable', checks: results });
  return true;
}

/**
 * An ops listener serving `/healthz`, `/readyz` and `/metrics`, 404 for anything else;
 * not listening until {@link OpsServer.start}.
 */
export function createOpsServer(opts: OpsServerOptions): OpsServer {
  const { registry, checks } = opts;
  const server: Server = createServer(
    serverOptions(opts.timeouts ?? DEFAULT_HTTP_TIMEOUTS),
    guardRequests(async (req, res) => {
      if (await answerProbe(req, res, checks)) return;
      if (pathOf(req) === '/metrics') {
        const text = await registry.metrics();
        res.writeHead(200, { 'content-type': registry.contentType }).end(text);
        return;
      }
      notFound(res);
    }, opts.log),
  );
  server.on('clientError', onClientError);
  return {
    async start(port, host) {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      return this.port;
    },
    get port() {
      const addr = server.address() as AddressInfo | string | null;
      return typeof addr === 'object' && addr ? addr.port : 0;
    },
    async stop() {
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
