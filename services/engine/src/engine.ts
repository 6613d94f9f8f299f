/**
 * The engine: consumes the shared engine queue (competing consumers, manual acks), stores
 * each message in MongoDB before the gateway may answer `accepted`, routes deliveries to
 * the gateway holding the recipient, replays on connect (then says `replayed`), deletes
 * on the recipient's ack, redelivers what stays unacked and expires what outlives
 * retention.
 *
 * Safe with several replicas: the unique `_id` makes stores idempotent, redelivery claims
 * are `findOneAndUpdate` on the claimed `dueAt`, deletes are filtered by recipient, and a
 * RabbitMQ message is acked only after its MongoDB work is done (a crash redelivers it).
 *
 * This class only wires the pieces and runs their lifecycle: each handler (send.ts,
 * replay.ts, acks.ts, signals.ts) and job (redelivery.ts, sweep.ts) gets the
 * collaborators it needs, never the engine.
 */
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { deliveryExchange, type EngineMessage } from '@gossip/protocol';
import {
  AmqpLink,
  connectUntil,
  createOpsServer,
  redisReady,
  type Logger,
  type OpsServer,
} from '@gossip/servicekit';
import {
  AttachmentBlobs,
  ensureSharedIndexes,
  sharedCollections,
  type SharedCollections,
} from '@gossip/store';
import { Acks } from './acks.js';
import { AttachmentLinks } from './attachment-links.js';
import { refreshAttachmentStats, sweepAttachments } from './attachment-sweep.js';
import type { EngineConfig } from './config.js';
import { BusConsumer } from './consumer.js';
import { MessageInserter } from './inserter.js';
import { createEngineMetrics, type EngineMetrics } from './metrics.js';
import { Outbound } from './outbound.js';
import { Permissions } from './permissions.js';
import { Receipts } from './receipts.js';
import { RecentMessages } from './recent.js';
import { RedeliveryScan } from './redelivery.js';
import { Replayer } from './replay.js';
import { Sends } from './send.js';
import { Signals } from './signals.js';
import { refreshStats, sweepExpired } from './sweep.js';

/** The pieces that need MongoDB, made once it answers. */
interface Handlers {
  c: SharedCollections;
  blobs: AttachmentBlobs;
  sends: Sends;
  replayer: Replayer;
  acks: Acks;
  signals: Signals;
  scan: RedeliveryScan;
}

export class Engine {
  readonly metrics: EngineMetrics;
  private readonly log: Logger;
  private readonly mongo: MongoClient;
  private readonly redis: Redis;
  private readonly link: AmqpLink;
  private readonly exchange: string;
  private readonly out: Outbound;
  private readonly consumer: BusConsumer;
  private readonly ops: OpsServer;
  private handlers: Handlers | undefined;
  private timers: NodeJS.Timeout[] = [];
  private stopping = false;

  constructor(
    private readonly cfg: EngineConfig,
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'engine' });
    this.metrics = createEngineMetrics();
    this.exchange = deliveryExchange(cfg.amqpPrefix);
    this.mongo = new MongoClient(cfg.mongoUrl, {
      serverSelectionTimeoutMS: 5000,
      maxPoolSize: cfg.mongoMaxPool,
      // Counts the store's round trips by command (`gossip_engine_store_commands_total`).
      monitorCommands: true,
    });
    this.mongo.on('commandStarted', (e) =>
      this.metrics.storeCommands.inc({ command: e.commandName }),
    );
    this.redis = new Redis(cfg.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
    this.redis.on('error', (err: unknown) => this.log.warn({ err }, 'redis error'));
    this.consumer = new BusConsumer({
      cfg,
      exchange: this.exchange,
      handle: (m) => this.route(m),
      metrics: this.metrics,
      log: this.log,
    });
    this.link = new AmqpLink({
      url: cfg.amqpUrl,
      logger: this.log,
      setup: (ch) => this.consumer.setup(ch),
    });
    this.out = new Outbound({
      link: this.link,
      exchange: this.exchange,
      redis: this.redis,
      redisPrefix: cfg.redisPrefix,
      metrics: this.metrics,
      log: this.log,
      presenceCacheMs: cfg.presenceCacheMs,
    });
    this.ops = createOpsServer({
      registry: this.metrics.registry,
      checks: () => this.checks(),
      timeouts: cfg.http,
      log: this.log,
    });
  }

  private async checks(): Promise<Record<string, string>> {
    const mongo = await this.mongo
      .db(this.cfg.mongoDb)
      .command({ ping: 1 })
      .then(() => 'ok')
      .catch(() => 'down');
    return {
      mongo,
      redis: this.redis.status === 'ready' ? 'ok' : this.redis.status,
      amqp: this.link.up ? 'ok' : 'down',
      consuming: this.stopping ? 'stopping' : 'ok',
    };
  }

  /** The handlers and jobs, over the shared collections of the connected database. */
  private makeHandlers(): Handlers {
    const { cfg, metrics, out } = this;
    const db = this.mongo.db(cfg.mongoDb);
    const c = sharedCollections(db);
    const blobs = new AttachmentBlobs(db);
    const links = new AttachmentLinks(c, blobs, metrics);
    const recent = new RecentMessages();
    const permissions = new Permissions(c, cfg.permissionCacheMs);
    const inserter = new MessageInserter(c.messages, cfg.prefetch, (n) =>
      metrics.storeBatch.observe(n),
    );
    const { redeliverySeconds, replayBatch } = cfg;
    return {
      c,
      blobs,
      sends: new Sends({
        c,
        inserter,
        permissions,
        links,
        out,
        recent,
        metrics,
        redeliverySeconds,
      }),
      replayer: new Replayer({
        c,
        out,
        recent,
        metrics,
        log: this.log,
        replayBatch,
        redeliverySeconds,
      }),
      acks: new Acks(
        { c, out, recent, metrics },
        links,
        new Receipts({
          c,
          out,
          redis: this.redis,
          redisPrefix: cfg.redisPrefix,
          metrics,
          log: this.log,
        }),
        undefined,
        (n) => metrics.ackBatch.observe(n),
      ),
      signals: new Signals(permissions, out, metrics),
      scan: new RedeliveryScan({
        c,
        out,
        metrics,
        log: this.log,
        redeliverySeconds,
        stopping: () => this.stopping,
        busUp: () => this.link.up,
      }),
    };
  }

  /** The handler of one bus message (the consumer starts only once the handlers exist). */
  private route(m: EngineMessage): Promise<void> {
    const h = this.handlers!;
    switch (m.op) {
      case 'send':
        return h.sends.onSend(m);
      case 'ack':
        return h.acks.onAck(m);
      case 'connected':
        // Before the replay reads the store: see PresenceCache.
        this.out.connected(m.user);
        return h.replayer.onConnected(m);
      case 'signal':
        return h.signals.onSignal(m);
    }
  }

  /** Connects everything, creates indexes, starts consuming and the periodic jobs. */
  async start(): Promise<number> {
    // A pod may start before its stores answer: wait for them (not listening, so not ready).
    await connectUntil('mongodb', () => this.mongo.connect(), {
      log: this.log,
      stopped: () => this.stopping,
    });
    const h = (this.handlers = this.makeHandlers());
    await ensureSharedIndexes(h.c);
    await redisReady(this.redis, this.log);
    await this.link.start();
    const every = (ms: number, job: () => Promise<unknown>): void => {
      this.timers.push(
        setInterval(() => {
          job().catch((err: unknown) => this.log.warn({ err }, 'periodic job failed'));
        }, ms),
      );
    };
    every(this.cfg.scanIntervalMs, () => h.scan.run());
    every(this.cfg.sweepIntervalSeconds * 1000, async () => {
      await sweepExpired(h.c, this.cfg, this.metrics, this.log);
      await sweepAttachments(h.c, h.blobs, this.cfg, this.metrics, this.log);
    });
    every(this.cfg.statsIntervalMs, () => refreshStats(h.c, this.metrics));
    every(5000, () => Promise.resolve(this.consumer.watch()));
    void refreshStats(h.c, this.metrics).catch(() => undefined);
    void refreshAttachmentStats(h.c, this.metrics).catch(() => undefined);
    const port = await this.ops.start(this.cfg.port, this.cfg.host);
    this.log.info({ port }, 'engine listening');
    return port;
  }

  /** Stops consuming, lets in-flight messages finish (and be acked), then closes. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.consumer.stop();
    while (this.handlers?.scan.scanning) await new Promise((r) => setTimeout(r, 50));
    await this.link.stop();
    this.redis.disconnect();
    await this.mongo.close();
    await this.ops.stop();
  }
}
