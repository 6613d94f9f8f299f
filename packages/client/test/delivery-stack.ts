/**
 * Test support for the WebSocket client: the real api, engine and gateway processes on the
 * test environment's servers (@gossip/testenv's launcher, isolated by a unique MongoDB
 * database, AMQP prefix and Redis prefix), users registered through the SDK, and recording
 * Messengers.
 */
import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import type { Db } from 'mongodb';
import { deliveryExchange } from '@gossip/protocol';
import {
  eventually as pollUntil,
  freePort,
  ServiceStack,
  type ApiVars,
  type EngineVars,
  type GatewayService,
  type GatewayVars,
  type Service,
} from '@gossip/testenv';
import { ApiClient } from '../src/api.js';
import { GossipClient } from '../src/gossip.js';
import { MemoryKeyStore, type KeyStore } from '../src/keystore.js';
import type { V2Options } from '../src/v2-sessions.js';
import { nodeWebSocketFactory } from '../src/node/ws.js';
import {
  Messenger,
  type ChatMessage,
  type MessengerError,
  type MessengerOptions,
  type StatusEvent,
} from '../src/ws/messenger.js';

export type Proc = Service;
export type Gw = GatewayService;

/** @gossip/testenv's {@link ServiceStack} with this suite's settings, and SDK users. */
export class DeliveryStack {
  readonly services = new ServiceStack('sdkws', undefined, {
    logGroup: 'sdk-ws',
    defaults: {
      api: { API_LOG_LEVEL: 'info' },
      engine: { ENGINE_LOG_LEVEL: 'info' },
      gateway: {
        GATEWAY_LOG_LEVEL: 'info',
        GATEWAY_PRESENCE_TTL_SECONDS: '5',
        GATEWAY_DRAIN_RECONNECT_MS: '200',
        GATEWAY_DRAIN_GRACE_MS: '3000',
      },
    },
  });
  readonly env = this.services.env;
  readonly ns = this.services.ns;
  readonly dbName = this.services.dbName;
  readonly db: Db = this.services.db;
  api!: Proc;

  async startApi(extra: ApiVars = {}): Promise<Proc> {
    this.api = await this.services.startApi(extra);
    return this.api;
  }

  startEngine(extra: EngineVars = {}, name = 'engine'): Promise<Proc> {
    return this.services.startEngine(extra, name);
  }

  startGateway(extra: GatewayVars = {}): Promise<Gw> {
    return this.services.startGateway(extra);
  }

  /**
   * A registered user (in-memory keys unless `keyStore` is given; v2 on unless `v2` says
   * otherwise).
   */
  async user(
    prefix: string,
    opts: { keyStore?: KeyStore; v2?: V2Options | boolean; password?: string } = {},
  ): Promise<GossipClient> {
    const username = `${prefix}_${randomBytes(4).toString('hex')}`;
    const gossip = new GossipClient({
      api: new ApiClient({ baseUrl: this.api.url }),
      keyStore: opts.keyStore ?? new MemoryKeyStore(),
      ...(opts.v2 === undefined ? {} : { v2: opts.v2 }),
    });
    const password = opts.password ?? `pw-${randomBytes(8).toString('hex')}`;
    await gossip.register({ username, password });
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

  close(): Promise<void> {
    return this.services.close();
  }

  /**
   * A queue bound to the delivery exchange that records every payload from now on (for the
   * plaintext scans); `close()` it in `after`.
   */
  async tapDeliveries(): Promise<{ payloads: Buffer[]; close: () => Promise<void> }> {
    const conn = await amqp.connect(this.env.amqpUrl);
    const ch = await conn.createChannel();
    const ex = deliveryExchange(this.services.amqpPrefix);
    await ch.assertExchange(ex, 'topic', { durable: true });
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, ex, '#');
    const payloads: Buffer[] = [];
    await ch.consume(queue, (m) => m && payloads.push(m.content), { noAck: true });
    return { payloads, close: () => conn.close() };
  }

  /** Every value under this stack's Redis prefix as JSON text, by key (plaintext scans). */
  async redisValues(): Promise<[string, string][]> {
    const redis = this.services.redis;
    const out: [string, string][] = [];
    for (const key of await redis.keys(`${this.services.redisPrefix}*`)) {
      const type = await redis.type(key);
      const value =
        type === 'string'
          ? await redis.get(key)
          : type === 'hash'
            ? await redis.hgetall(key)
            : type === 'list'
              ? await redis.lrange(key, 0, -1)
              : type === 'set'
                ? await redis.smembers(key)
                : type === 'zset'
                  ? await redis.zrange(key, 0, -1)
                  : type === 'stream'
                    ? await redis.xrange(key, '-', '+')
                    : null;
      out.push([key, JSON.stringify(value)]);
    }
    return out;
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
