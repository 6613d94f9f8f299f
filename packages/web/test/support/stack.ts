/**
 * Test support: the api, gateway and engine as real processes against the test
 * environment's servers (@gossip/testenv's launcher, isolated by a unique MongoDB
 * database, AMQP prefix and Redis prefix), plus the web server in this process, and
 * Debian's Chromium.
 */
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { freePort, repoRoot, ServiceStack, type GatewayService } from '@gossip/testenv';
import { chromium, type Browser } from 'playwright-core';
import { ensureWebBuild, startWebServer, type WebServer } from '../../src/index.js';

export { repoRoot };

/** Launch options that work on this kind of machine (root, no GPU, nothing leaves loopback). */
export const CHROMIUM_PATH = process.env.GOSSIP_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** @param extraArgs more command-line switches (e.g. a fake camera) */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, ...extraArgs] });
}

export class WebStack {
  readonly services = new ServiceStack('web', undefined, {
    logGroup: 'web',
    readyTimeoutMs: 90_000,
    // The services' own log level (info), as before the stack was shared.
    defaults: {
      api: { API_LOG_LEVEL: 'info' },
      engine: { ENGINE_LOG_LEVEL: 'info' },
      gateway: { GATEWAY_LOG_LEVEL: 'info' },
    },
  });
  readonly env = this.services.env;
  readonly ns = this.services.ns;
  readonly dbName = this.services.dbName;
  private gateway: GatewayService | undefined;
  web: WebServer | undefined;
  apiUrl = '';
  gatewayUrl = '';

  /** Starts engine, api, gateway and the web server; builds the page first if needed. */
  async start(log: (line: string) => void): Promise<WebServer> {
    await ensureWebBuild(log);
    await this.services.startEngine();
    this.apiUrl = (await this.services.startApi()).url;
    this.gateway = await this.services.startGateway({}, { instanceId: `web-${this.ns}` });
    this.gatewayUrl = this.gateway.url;
    this.web = await startWebServer({
      root: join(repoRoot, 'packages', 'web', 'dist'),
      apiUrl: this.apiUrl,
      gatewayUrl: this.gatewayUrl,
      port: 0,
    });
    return this.web;
  }

  /** Kills the gateway with SIGKILL (a crash: no drain, no close frames). */
  async killGateway(): Promise<void> {
    if (!this.gateway) throw new Error('no gateway running');
    await this.gateway.proc.kill9();
  }

  /** Starts the gateway again on the port the web server forwards to. */
  async startGateway(): Promise<void> {
    if (!this.gateway) throw new Error('start() first');
    const { port, instanceId } = this.gateway;
    this.gateway = await this.services.startGateway({}, { port, instanceId });
  }

  /** Everything the services printed. */
  logs(): string {
    return this.services.logs();
  }

  /** Every document of this stack's database, as JSON text. */
  async databaseText(): Promise<string> {
    const client = new MongoClient(this.env.mongoUrl);
    try {
      const db = client.db(this.dbName);
      let text = '';
      for (const c of await db.listCollections().toArray()) {
        text += JSON.stringify(await db.collection(c.name).find({}).toArray());
      }
      return text;
    } finally {
      await client.close();
    }
  }

  /** Stops the web server, then the services newest first, and drops the database. */
  async stop(): Promise<void> {
    await this.web?.close();
    await this.services.close('reverse', 10_000);
  }
}

export { freePort };
