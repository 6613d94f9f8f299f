/**
 * Test support: the api, gateway and engine as real processes against the test
 * environment's servers (isolated by a unique MongoDB database, AMQP prefix and Redis
 * prefix), plus the web server in this process, and Debian's Chromium.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';
import { generateKeySets } from '@gossip/servicekit';
import { freePort, startProcess, testEnv, uniqueName, type ManagedProcess } from '@gossip/testenv';
import { chromium, type Browser } from 'playwright-core';
import { ensureWebBuild, startWebServer, type WebServer } from '../../src/index.js';

/** The repository root (services run from there, as in production images). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

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

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

export class WebStack {
  readonly env = testEnv();
  readonly ns = uniqueName('web').replace(/[^a-z0-9-]/g, '-');
  readonly dbName = this.ns.replace(/-/g, '_');
  /** The access-token keys: the api's private set, the gateways' public set. */
  readonly jwtKeys = generateKeySets('test');
  /** Running services, stopped in reverse order. */
  readonly procs: { name: string; proc: ManagedProcess }[] = [];
  /** Every process ever started, for `logs()`. */
  private readonly started: ManagedProcess[] = [];
  web: WebServer | undefined;
  apiUrl = '';
  gatewayUrl = '';

  private logFile(name: string): string {
    return join(this.env.dir, 'scratch', 'web', this.ns, `${name}.log`);
  }

  private gatewayVars: ((port: number) => Record<string, string>) | undefined;

  private async service(
    name: 'api' | 'gateway' | 'engine',
    vars: (port: number) => Record<string, string>,
    fixedPort?: number,
  ): Promise<string> {
    const port = fixedPort ?? (await freePort());
    const proc = await startProcess({
      command: process.execPath,
      args: ['--import', 'tsx', `services/${name}/src/main.ts`],
      cwd: repoRoot,
      cleanEnv: true,
      env: vars(port),
      readyUrl: `http://127.0.0.1:${port}/readyz`,
      readyTimeoutMs: 90_000,
      logFile: this.logFile(name),
    });
    this.procs.push({ name, proc });
    this.started.push(proc);
    return `http://127.0.0.1:${port}`;
  }

  /** Starts engine, api, gateway and the web server; builds the page first if needed. */
  async start(log: (line: string) => void): Promise<WebServer> {
    await ensureWebBuild(log);
    const e = this.env;
    const amqpPrefix = `t.${this.ns}`;
    const redisPrefix = `${this.ns}:`;
    await this.service('engine', (port) => ({
      ENGINE_PORT: String(port),
      ENGINE_HOST: '127.0.0.1',
      ENGINE_AMQP_URL: e.amqpUrl,
      ENGINE_MONGO_URL: e.mongoUrl,
      ENGINE_MONGO_DB: this.dbName,
      ENGINE_REDIS_URL: e.redisUrl,
      ENGINE_AMQP_PREFIX: amqpPrefix,
      ENGINE_REDIS_PREFIX: redisPrefix,
    }));
    this.apiUrl = await this.service('api', (port) => ({
      API_PORT: String(port),
      API_HOST: '127.0.0.1',
      // The ops listener (metrics) is not used here: any free port.
      API_OPS_PORT: '0',
      API_MONGO_URL: e.mongoUrl,
      API_MONGO_DB: this.dbName,
      API_REDIS_URL: e.redisUrl,
      API_REDIS_PREFIX: redisPrefix,
      API_JWT_PRIVATE_KEYS: this.jwtKeys.privateKeys,
      // Cheap password hashing: the browsers register and log in several times.
      API_SCRYPT_LOG_N: '10',
    }));
    this.gatewayVars = (port) => ({
      GATEWAY_PORT: String(port),
      GATEWAY_HOST: '127.0.0.1',
      // The ops listener (metrics) is not used here; 0 so parallel stacks do not collide.
      GATEWAY_OPS_PORT: '0',
      GATEWAY_AMQP_URL: e.amqpUrl,
      GATEWAY_REDIS_URL: e.redisUrl,
      GATEWAY_JWT_PUBLIC_KEYS: this.jwtKeys.publicKeys,
      GATEWAY_INSTANCE_ID: `web-${this.ns}`,
      GATEWAY_AMQP_PREFIX: amqpPrefix,
      GATEWAY_REDIS_PREFIX: redisPrefix,
      // Every test client is 127.0.0.1: lift the per-address caps.
      GATEWAY_MAX_CONNS_PER_ADDRESS: '1000000',
      GATEWAY_CONNECT_RATE_PER_ADDRESS: '1000000',
    });
    this.gatewayUrl = await this.service('gateway', this.gatewayVars);
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
    const i = this.procs.findIndex((p) => p.name === 'gateway');
    const gw = this.procs[i];
    if (!gw) throw new Error('no gateway running');
    await gw.proc.kill9();
    this.procs.splice(i, 1);
  }

  /** Starts the gateway again on the port the web server forwards to. */
  async startGateway(): Promise<void> {
    if (!this.gatewayVars) throw new Error('start() first');
    await this.service('gateway', this.gatewayVars, Number(new URL(this.gatewayUrl).port));
  }

  /** Everything the services printed. */
  logs(): string {
    return this.started.map((p) => p.output()).join('\n');
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

  async stop(): Promise<void> {
    await this.web?.close();
    for (const p of [...this.procs].reverse()) await p.proc.stop(10_000);
    const client = new MongoClient(this.env.mongoUrl);
    try {
      await client.db(this.dbName).dropDatabase();
    } catch {
      // best effort
    } finally {
      await client.close();
    }
  }
}

export { freePort };
