/**
 * Test support: runs the delivery services (gateway, engine, and the api when a test wants
 * real accounts) as real processes against the test environment's servers, isolated by a
 * unique MongoDB database, AMQP name prefix and Redis key prefix per stack.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient, type Db } from 'mongodb';
import { Redis } from 'ioredis';
import { contactDocId, type ContactDoc } from '@gossip/protocol';
import {
  generateSigningJwk,
  parseSigningKeys,
  publicKeySet,
  signAccessToken,
  type SigningKey,
} from '@gossip/servicekit';
import {
  eventually,
  freePort,
  startProcess,
  testEnv,
  uniqueName,
  type ManagedProcess,
  type TestEnv,
} from '@gossip/testenv';

/**
 * The servers a stack runs against: the test environment's by default; the benchmarks
 * and the resilience suite pass their own, which they may kill and restart.
 */
export type StackServers = Pick<TestEnv, 'amqpUrl' | 'mongoUrl' | 'redisUrl' | 'dir'> &
  Partial<Pick<TestEnv, 'servers'>>;

/** The repository root (services run from there, as in production images). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

export interface Service {
  proc: ManagedProcess;
  port: number;
  /** http://127.0.0.1:port */
  url: string;
  /**
   * Where `/metrics` is: the ops port of the api and the gateway (which serve it only
   * there), `url` for the engine (whose one port is its ops port).
   */
  metricsUrl: string;
}

export interface GatewayService extends Service {
  /** The ops listener's port (`/metrics`, `/healthz`, `/readyz`); `metricsUrl` is on it. */
  opsPort: number;
  instanceId: string;
  /** ws://127.0.0.1:port/ws */
  wsUrl: string;
}

export class Stack {
  readonly env: StackServers;
  readonly ns: string;
  readonly dbName: string;
  readonly amqpPrefix: string;
  readonly redisPrefix: string;
  /** The access-token key pair: the api signs with it, gateways get its public half. */
  readonly jwk = generateSigningJwk('test-1');
  readonly privateKeys = JSON.stringify({ keys: [this.jwk] });
  readonly publicKeys = JSON.stringify(publicKeySet({ keys: [this.jwk] }));
  readonly signingKey: SigningKey = parseSigningKeys(this.privateKeys).signing;
  readonly mongo: MongoClient;
  readonly db: Db;
  readonly redis: Redis;
  /** Extra node flags for every service this stack starts (for example `--cpu-prof`). */
  nodeArgs: string[] = [];
  private readonly procs = new Set<ManagedProcess>();
  private gwCount = 0;

  constructor(name: string, servers?: StackServers) {
    this.env = servers ?? testEnv();
    this.ns = uniqueName(name).replace(/[^a-z0-9-]/g, '-');
    this.dbName = this.ns.replace(/-/g, '_');
    this.amqpPrefix = `t.${this.ns}`;
    this.redisPrefix = `${this.ns}:`;
    this.mongo = new MongoClient(this.env.mongoUrl);
    this.db = this.mongo.db(this.dbName);
    this.redis = new Redis(this.env.redisUrl, { lazyConnect: false });
  }

  private logFile(name: string): string {
    return join(this.env.dir, 'scratch', 'delivery', this.ns, `${name}.log`);
  }

  async startEngine(extra: Record<string, string> = {}, name = 'engine'): Promise<Service> {
    const port = await freePort();
    const proc = await startProcess({
      command: process.execPath,
      args: [...this.nodeArgs, '--import', 'tsx', 'services/engine/src/main.ts'],
      cwd: repoRoot,
      cleanEnv: true,
      env: {
        ENGINE_PORT: String(port),
        ENGINE_HOST: '127.0.0.1',
        ENGINE_AMQP_URL: this.env.amqpUrl,
        ENGINE_MONGO_URL: this.env.mongoUrl,
        ENGINE_MONGO_DB: this.dbName,
        ENGINE_REDIS_URL: this.env.redisUrl,
        ENGINE_AMQP_PREFIX: this.amqpPrefix,
        ENGINE_REDIS_PREFIX: this.redisPrefix,
        ENGINE_LOG_LEVEL: 'debug',
        ...extra,
      },
      readyUrl: `http://127.0.0.1:${port}/readyz`,
      readyTimeoutMs: 60_000,
      logFile: this.logFile(name),
    });
    this.procs.add(proc);
    return { proc, port, url: `http://127.0.0.1:${port}`, metricsUrl: `http://127.0.0.1:${port}` };
  }

  async startGateway(extra: Record<string, string> = {}): Promise<GatewayService> {
    const port = await freePort();
    const opsPort = await freePort();
    const instanceId = extra.GATEWAY_INSTANCE_ID ?? `gw${++this.gwCount}-${port}`;
    const proc = await startProcess({
      command: process.execPath,
      args: [...this.nodeArgs, '--import', 'tsx', 'services/gateway/src/main.ts'],
      cwd: repoRoot,
      cleanEnv: true,
      env: {
        GATEWAY_PORT: String(port),
        GATEWAY_HOST: '127.0.0.1',
        GATEWAY_OPS_PORT: String(opsPort),
        GATEWAY_OPS_HOST: '127.0.0.1',
        GATEWAY_AMQP_URL: this.env.amqpUrl,
        GATEWAY_REDIS_URL: this.env.redisUrl,
        GATEWAY_JWT_PUBLIC_KEYS: this.publicKeys,
        GATEWAY_INSTANCE_ID: instanceId,
        GATEWAY_AMQP_PREFIX: this.amqpPrefix,
        GATEWAY_REDIS_PREFIX: this.redisPrefix,
        GATEWAY_LOG_LEVEL: 'debug',
        // Every test client is 127.0.0.1, so per-address caps would treat a whole test as
        // one client; caps.integration.test.ts sets its own.
        GATEWAY_MAX_CONNS_PER_ADDRESS: '1000000',
        GATEWAY_CONNECT_RATE_PER_ADDRESS: '1000000',
        ...extra,
      },
      readyUrl: `http://127.0.0.1:${port}/readyz`,
      readyTimeoutMs: 60_000,
      logFile: this.logFile(`gateway-${instanceId}`),
    });
    this.procs.add(proc);
    return {
      proc,
      port,
      opsPort,
      url: `http://127.0.0.1:${port}`,
      metricsUrl: `http://127.0.0.1:${opsPort}`,
      instanceId,
      wsUrl: `ws://127.0.0.1:${port}/ws`,
    };
  }

  async startApi(extra: Record<string, string> = {}): Promise<Service> {
    const port = await freePort();
    const opsPort = await freePort();
    const proc = await startProcess({
      command: process.execPath,
      args: [...this.nodeArgs, '--import', 'tsx', 'services/api/src/main.ts'],
      cwd: repoRoot,
      cleanEnv: true,
      env: {
        API_PORT: String(port),
        API_HOST: '127.0.0.1',
        API_OPS_PORT: String(opsPort),
        API_OPS_HOST: '127.0.0.1',
        API_MONGO_URL: this.env.mongoUrl,
        API_MONGO_DB: this.dbName,
        API_REDIS_URL: this.env.redisUrl,
        API_REDIS_PREFIX: this.redisPrefix,
        API_JWT_PRIVATE_KEYS: this.privateKeys,
        API_SCRYPT_LOG_N: '10',
        API_LOG_LEVEL: 'debug',
        ...extra,
      },
      readyUrl: `http://127.0.0.1:${port}/readyz`,
      readyTimeoutMs: 60_000,
      logFile: this.logFile('api'),
    });
    this.procs.add(proc);
    return {
      proc,
      port,
      url: `http://127.0.0.1:${port}`,
      metricsUrl: `http://127.0.0.1:${opsPort}`,
    };
  }

  /** Everything every process of this stack printed so far. */
  logs(): string {
    return [...this.procs].map((p) => p.output()).join('\n');
  }

  /**
   * An access token as the api mints it, for the users {@link createUsers} makes (their uid
   * is `uid-<name>`), in session `sid`.
   */
  async token(
    username: string,
    ttlSeconds = 900,
    now = Math.floor(Date.now() / 1000),
    sid = `sid-${username}`,
  ): Promise<string> {
    return signAccessToken(
      { username, uid: `uid-${username}`, sid },
      this.signingKey,
      ttlSeconds,
      now * 1000,
    );
  }

  /**
   * Creates users directly in MongoDB in the api's shape (`users._id` = username) with no
   * keys, for tests where the api process is not the subject.
   */
  async createUsers(...names: string[]): Promise<void> {
    const now = new Date();
    await this.db.collection<{ _id: string }>('users').insertMany(
      names.map((n) => ({
        _id: n,
        uid: `uid-${n}`,
        passwordHash: 'not-a-real-hash',
        displayName: null,
        keyVersion: 1,
        avatar: null,
        createdAt: now,
      })),
    );
  }

  /** Makes `a` and `b` accepted contacts (both sides), as the api stores them. */
  async makeContacts(a: string, b: string, blockedBy?: string): Promise<void> {
    const now = new Date();
    const doc = (owner: string, peer: string): ContactDoc => ({
      _id: contactDocId(owner, peer),
      owner,
      peer,
      state: 'accepted',
      blocked: blockedBy === owner,
      since: now,
    });
    await this.db.collection<ContactDoc>('contacts').insertMany([doc(a, b), doc(b, a)]);
  }

  /** Stops every process this stack started and drops its database and keys. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.procs].map((p) => p.stop(5000)));
    await this.db.dropDatabase().catch(() => undefined);
    const keys = await this.redis.keys(`${this.redisPrefix}*`);
    if (keys.length > 0) await this.redis.del(...keys);
    await this.mongo.close();
    this.redis.disconnect();
  }
}

/** Re-exported for callers that took them from here before @gossip/testenv exported them. */
export { eventually, freePort };
