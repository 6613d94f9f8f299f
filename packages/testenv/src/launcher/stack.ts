/**
 * A stack of services for tests and benchmarks: the {@link Launcher}'s gateway, engine and
 * api processes against the test environment's servers (or private ones), isolated by a
 * unique MongoDB database, AMQP name prefix and Redis key prefix, with the fixtures tests
 * build on: access tokens as the api mints them, users and contacts in the api's shape.
 */
import { join } from 'node:path';
import { MongoClient, type Db } from 'mongodb';
import { Redis } from 'ioredis';
import { COLLECTIONS, contactDocId, type ContactDoc } from '@gossip/protocol';
import {
  generateSigningJwk,
  parseSigningKeys,
  publicKeySet,
  signAccessToken,
  type SigningKey,
} from '@gossip/servicekit';
import { testEnv, type TestEnv } from '../state.js';
import type { ApiVars, EngineVars, GatewayVars } from './env.js';
import { dropIsolated, isolationFor, stackNamespace } from './isolation.js';
import { Launcher, type GatewayService, type LauncherOptions, type Service } from './launcher.js';

/**
 * The servers a stack runs against: the test environment's by default; the benchmarks
 * and the resilience suite pass their own, which they may kill and restart.
 */
export type StackServers = Pick<TestEnv, 'amqpUrl' | 'mongoUrl' | 'redisUrl' | 'dir'> &
  Partial<Pick<TestEnv, 'servers'>>;

/** What differs between the suites that use a stack. */
export interface StackOptions {
  /** Logs go to `<dir>/scratch/<logGroup>/<ns>/<service>.log`. @default 'delivery' */
  logGroup?: string;
  /** Variables per kind, over the stack's own defaults (debug logs, lifted caps, cheap scrypt). */
  defaults?: LauncherOptions['defaults'];
  /** @default 60000 */
  readyTimeoutMs?: number;
}

/** Every test client is 127.0.0.1, so per-address caps would treat a whole test as one client. */
const TEST_DEFAULTS = {
  engine: { ENGINE_LOG_LEVEL: 'debug' },
  gateway: {
    GATEWAY_LOG_LEVEL: 'debug',
    // caps.integration.test.ts sets its own.
    GATEWAY_MAX_CONNS_PER_ADDRESS: '1000000',
    GATEWAY_CONNECT_RATE_PER_ADDRESS: '1000000',
  },
  // Cheap password hashing: tests register and log in many times.
  api: { API_SCRYPT_LOG_N: '10', API_LOG_LEVEL: 'debug' },
} as const satisfies LauncherOptions['defaults'];

export class ServiceStack {
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
  private launcherOf: Launcher | undefined;

  constructor(
    name: string,
    servers?: StackServers,
    private readonly opts: StackOptions = {},
  ) {
    this.env = servers ?? testEnv();
    this.ns = stackNamespace(name);
    const iso = isolationFor(this.ns);
    this.dbName = iso.mongoDb;
    this.amqpPrefix = iso.amqpPrefix;
    this.redisPrefix = iso.redisPrefix;
    this.mongo = new MongoClient(this.env.mongoUrl);
    this.db = this.mongo.db(this.dbName);
    this.redis = new Redis(this.env.redisUrl, { lazyConnect: false });
  }

  /** The launcher, made on first use so `nodeArgs` set after construction still apply. */
  private get launcher(): Launcher {
    this.launcherOf ??= new Launcher({
      servers: this.env,
      logDir: join(this.env.dir, 'scratch', this.opts.logGroup ?? 'delivery', this.ns),
      jwtKeys: { privateKeys: this.privateKeys, publicKeys: this.publicKeys },
      isolation: {
        mongoDb: this.dbName,
        amqpPrefix: this.amqpPrefix,
        redisPrefix: this.redisPrefix,
      },
      nodeArgs: this.nodeArgs,
      readyTimeoutMs: this.opts.readyTimeoutMs,
      defaults: {
        engine: { ...TEST_DEFAULTS.engine, ...this.opts.defaults?.engine },
        gateway: { ...TEST_DEFAULTS.gateway, ...this.opts.defaults?.gateway },
        api: { ...TEST_DEFAULTS.api, ...this.opts.defaults?.api },
      },
    });
    return this.launcherOf;
  }

  startEngine(extra: EngineVars = {}, name = 'engine'): Promise<Service> {
    return this.launcher.startEngine({ env: extra, name });
  }

  /**
   * A gateway; `at` puts it on a given port or instance id (a restart where it was), or
   * gives it node flags of its own (`--inspect=...`).
   */
  startGateway(
    extra: GatewayVars = {},
    at: { port?: number; instanceId?: string; name?: string; nodeArgs?: string[] } = {},
  ): Promise<GatewayService> {
    return this.launcher.startGateway({ ...at, env: extra });
  }

  startApi(extra: ApiVars = {}): Promise<Service> {
    return this.launcher.startApi({ env: extra });
  }

  /** Everything every process of this stack printed so far. */
  logs(): string {
    return this.launcherOf?.logs() ?? '';
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
    await insertAcceptedContacts(this.db, a, b, blockedBy);
  }

  /**
   * Stops every process this stack started (all at once, or newest first: see
   * {@link Launcher.stopAll}) and drops its database and keys.
   */
  async close(order: 'together' | 'reverse' = 'together', graceMs = 5000): Promise<void> {
    // The clients are closed whatever fails before: a Redis client left open reconnects
    // forever and keeps the test file's process from ever ending (seen in the operator's
    // autoscale test after a failed run).
    try {
      await this.launcherOf?.stopAll(graceMs, order);
      await dropIsolated(this.env, {
        mongoDb: this.dbName,
        amqpPrefix: this.amqpPrefix,
        redisPrefix: this.redisPrefix,
      });
    } finally {
      this.redis.disconnect();
      await this.mongo.close();
    }
  }
}

/**
 * Makes `a` and `b` accepted contacts in `db` (both sides), as the api stores them;
 * `blockedBy`, if given, is the side that blocked the other. For tests that seed the store
 * without an api (the engine's own tests) and for {@link ServiceStack.makeContacts}.
 */
export async function insertAcceptedContacts(
  db: Db,
  a: string,
  b: string,
  blockedBy?: string,
): Promise<void> {
  const now = new Date();
  const doc = (owner: string, peer: string): ContactDoc => ({
    _id: contactDocId(owner, peer),
    owner,
    peer,
    state: 'accepted',
    blocked: blockedBy === owner,
    since: now,
  });
  await db.collection<ContactDoc>(COLLECTIONS.contacts).insertMany([doc(a, b), doc(b, a)]);
}
