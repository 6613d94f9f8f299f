/**
 * Test support for the WebSocket client: the real api, engine and gateway processes on the
 * test environment's servers (isolated by a unique MongoDB database, AMQP prefix and Redis
 * prefix), users registered through the SDK, and recording Messengers.
 */
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { MongoClient, type Db } from 'mongodb';
import { Redis } from 'ioredis';
import { generateKeySets } from '@gossip/servicekit';
import {
  eventually as pollUntil,
  freePort,
  startProcess,
  testEnv,
  uniqueName,
  type ManagedProcess,
} from '@gossip/testenv';
import { ApiClient } from '../src/api.js';
import { GossipClient } from '../src/gossip.js';
import { MemoryKeyStore } from '../src/keystore.js';
import { nodeWebSocketFactory } from '../src/node/ws.js';
import {
  Messenger,
  type ChatMessage,
  type MessengerError,
  type MessengerOptions,
  type StatusEvent,
} from '../src/ws/messenger.js';
import { repoRoot } from './api-process.js';

export interface Proc {
  proc: ManagedProcess;
  port: number;
  url: string;
}

export interface Gw extends Proc {
  wsUrl: string;
  instanceId: string;
}

export class DeliveryStack {
  readonly env = testEnv();
  readonly ns = uniqueName('sdkws').replace(/[^a-z0-9-]/g, '-');
  readonly dbName = this.ns.replace(/-/g, '_');
  readonly amqpPrefix = `t.${this.ns}`;
  readonly redisPrefix = `${this.ns}:`;
  /** The access-token keys: the api's private set, the gateways' public set. */
  readonly jwtKeys = generateKeySets('test');
  readonly mongo = new MongoClient(this.env.mongoUrl);
  readonly db: Db = this.mongo.db(this.dbName);
  readonly procs = new Set<ManagedProcess>();
  api!: Proc;
  private gwCount = 0;

  private log(name: string): string {
    return join(this.env.dir, 'scratch', 'sdk-ws', this.ns, `${name}.log`);
  }

  private async start(
    name: string,
    entry: string,
    env: Record<string, string>,
    port: number,
  ): Promise<Proc> {
    const proc = await startProcess({
      command: process.execPath,
      args: ['--import', 'tsx', entry],
      cwd: repoRoot,
      cleanEnv: true,
      env,
      readyUrl: `http://127.0.0.1:${port}/readyz`,
      readyTimeoutMs: 60_000,
      logFile: this.log(name),
    });
    this.procs.add(proc);
    return { proc, port, url: `http://127.0.0.1:${port}` };
  }

  async startApi(extra: Record<string, string> = {}): Promise<Proc> {
    const port = await freePort();
    this.api = await this.start(
      'api',
      'services/api/src/main.ts',
      {
        API_PORT: String(port),
        API_HOST: '127.0.0.1',
        // The ops listener (metrics) is not used here: any free port.
        API_OPS_PORT: '0',
        API_MONGO_URL: this.env.mongoUrl,
        API_MONGO_DB: this.dbName,
        API_REDIS_URL: this.env.redisUrl,
        API_REDIS_PREFIX: this.redisPrefix,
        API_JWT_PRIVATE_KEYS: this.jwtKeys.privateKeys,
        API_SCRYPT_LOG_N: '10',
        API_LOG_LEVEL: 'info',
        ...extra,
      },
      port,
    );
    return this.api;
  }

  async startEngine(extra: Record<string, string> = {}, name = 'engine'): Promise<Proc> {
    const port = await freePort();
    return this.start(
      name,
      'services/engine/src/main.ts',
      {
        ENGINE_PORT: String(port),
        ENGINE_HOST: '127.0.0.1',
        ENGINE_AMQP_URL: this.env.amqpUrl,
        ENGINE_MONGO_URL: this.env.mongoUrl,
        ENGINE_MONGO_DB: this.dbName,
        ENGINE_REDIS_URL: this.env.redisUrl,
        ENGINE_AMQP_PREFIX: this.amqpPrefix,
        ENGINE_REDIS_PREFIX: this.redisPrefix,
        ENGINE_LOG_LEVEL: 'info',
        ...extra,
      },
      port,
    );
  }

  async startGateway(extra: Record<string, string> = {}): Promise<Gw> {
    const port = await freePort();
    const instanceId = `gw${++this.gwCount}-${port}`;
    const p = await this.start(
      `gateway-${instanceId}`,
      'services/gateway/src/main.ts',
      {
        GATEWAY_PORT: String(port),
        GATEWAY_HOST: '127.0.0.1',
        // The ops listener (metrics) is not used here; 0 so parallel stacks do not collide.
        GATEWAY_OPS_PORT: '0',
        GATEWAY_AMQP_URL: this.env.amqpUrl,
        GATEWAY_REDIS_URL: this.env.redisUrl,
        GATEWAY_JWT_PUBLIC_KEYS: this.jwtKeys.publicKeys,
        GATEWAY_INSTANCE_ID: instanceId,
        GATEWAY_AMQP_PREFIX: this.amqpPrefix,
        GATEWAY_REDIS_PREFIX: this.redisPrefix,
        GATEWAY_LOG_LEVEL: 'info',
        GATEWAY_PRESENCE_TTL_SECONDS: '5',
        GATEWAY_DRAIN_RECONNECT_MS: '200',
        GATEWAY_DRAIN_GRACE_MS: '3000',
        // Every test client is 127.0.0.1: lift the per-address caps.
        GATEWAY_MAX_CONNS_PER_ADDRESS: '1000000',
        GATEWAY_CONNECT_RATE_PER_ADDRESS: '1000000',
        ...extra,
      },
      port,
    );
    return { ...p, instanceId, wsUrl: `ws://127.0.0.1:${port}/ws` };
  }

  /** A registered user (in-memory keys). */
  async user(prefix: string): Promise<GossipClient> {
    const username = `${prefix}_${randomBytes(4).toString('hex')}`;
    const gossip = new GossipClient({
      api: new ApiClient({ baseUrl: this.api.url }),
      keyStore: new MemoryKeyStore(),
    });
    await gossip.register({ username, password: `pw-${randomBytes(8).toString('hex')}` });
    return gossip;
  }

  /** Two registered users who are contacts; `b` accepted with a key envelope for `a`. */
  async pair(): Promise<[GossipClient, GossipClient]> {
    const a = await this.user('alice');
    const b = await this.user('bob');
    await a.api.requestContact(b.username);
    await b.acceptContact(a.username);
    return [a, b];
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.procs].map((p) => p.stop(5000)));
    await this.db.dropDatabase().catch(() => undefined);
    await this.mongo.close();
    const redis = new Redis(this.env.redisUrl);
    const keys = await redis.keys(`${this.redisPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
}

/** A Messenger that records what the application saw. */
export class Recorder {
  readonly messenger: Messenger;
  readonly shown: ChatMessage[] = [];
  readonly statuses: StatusEvent[] = [];
  readonly errors: MessengerError[] = [];
  /** Runs inside the handler, before it returns (throw to refuse a message). */
  beforeReturn: ((m: ChatMessage) => void | Promise<void>) | undefined;

  constructor(
    readonly gossip: GossipClient,
    urls: string[],
    opts: Partial<MessengerOptions> = {},
  ) {
    this.messenger = new Messenger({
      gossip,
      url: urls,
      webSocket: nodeWebSocketFactory(),
      connection: { backoffInitialMs: 100, backoffMaxMs: 2000 },
      onMessage: async (m) => {
        await this.beforeReturn?.(m);
        this.shown.push(m);
        this.trace.push(`${Date.now()} shown ${m.id} ${m.text}`);
      },
      ...opts,
    });
    this.messenger.on('status', (s) => this.statuses.push(s));
    this.messenger.on('error', (e) => this.errors.push(e));
    this.messenger.on('held', (h) => this.trace.push(`${Date.now()} held ${h.id}`));
    this.messenger.connection.on('frame', (f) => {
      if (f.type === 'deliver')
        this.trace.push(`${Date.now()} deliver ${f.id} sentAt=${f.sentAt} ${f.kind}`);
    });
    this.messenger.connection.on('closed', (c) =>
      this.trace.push(`${Date.now()} closed ${c.url} ${c.code}`),
    );
  }

  /** What arrived when (for failure messages). */
  readonly trace: string[] = [];

  get name(): string {
    return this.gossip.username;
  }

  texts(from?: string): string[] {
    return this.shown.filter((m) => from === undefined || m.from === from).map((m) => m.text);
  }

  statesOf(id: string): string[] {
    return this.statuses.filter((s) => s.id === id).map((s) => s.state);
  }

  async start(): Promise<this> {
    await this.messenger.start();
    await this.messenger.waitUntilOpen();
    return this;
  }
}

/** @gossip/testenv's `eventually`, with this suite's 20 s default and 50 ms polling. */
export function eventually<T>(
  check: () => Promise<T | undefined | false | null> | T | undefined | false | null,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  return pollUntil(check, what, timeoutMs, 50);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export { freePort };
