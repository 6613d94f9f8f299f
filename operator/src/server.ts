/**
 * The metrics and health server: `/metrics` (Prometheus text), `/healthz` (the process
 * is alive) and `/readyz` (the operator can do its job: a leader whose informers synced,
 * or a standby that is campaigning).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import {
  DEFAULT_HTTP_TIMEOUTS,
  guardRequests,
  onClientError,
  serverOptions,
  type HttpTimeouts,
} from '@gossip/servicekit';

export interface HealthChecks {
  /** `undefined` when ready, else the reason it is not. */
  notReady(): string | undefined;
}

export class MetricsServer {
  private readonly server: Server;

  constructor(
    private readonly registry: Registry,
    private readonly health: HealthChecks,
    timeouts: HttpTimeouts = DEFAULT_HTTP_TIMEOUTS,
  ) {
    // Guarded: a health check or the registry that throws answers 500, not a dead process.
    const handler = guardRequests((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405).end();
      } else if (path === '/metrics') {
        this.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
          (err: unknown) => res.writeHead(500).end(String(err)),
        );
      } else if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      } else if (path === '/readyz') {
        const why = this.health.notReady();
        res.writeHead(why ? 503 : 200, { 'content-type': 'text/plain' }).end(`${why ?? 'ok'}\n`);
      } else {
        res.writeHead(404).end();
      }
    });
    this.server = createServer(serverOptions(timeouts), handler);
    this.server.on('clientError', onClientError);
  }

  async start(port: number, host: string): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
