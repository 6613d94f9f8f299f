/**
 * The gateway: holds clients' WebSocket connections, authenticates them at the upgrade,
 * keeps their presence in Redis, forwards `send`/`ack`/`signal` to the engines over
 * RabbitMQ and pushes what the engines route to it from its own queue.
 *
 * It keeps no message state of its own: MongoDB (through the engine) is the truth, and a
 * push the gateway drops (slow socket, closed socket, crash) is redelivered by the engine.
 * This class only builds its collaborators, wires them and runs start, drain and stop:
 * the upgrade (upgrade.ts), each connection and its backpressure (connection.ts), the
 * registry, the client frames (router.ts), the engines' bus both ways (engine-bus.ts,
 * bus-consumer.ts), replays (drains.ts), the api's Redis channels (api-events.ts) and the
 * periodic upkeep (heartbeat.ts).
 */
import { createServer, type Server } from 'node:http';
import { Redis } from 'ioredis';
import { WebSocketServer, type Server as WsServer } from 'ws';
import { deliveryExchange, WS_SUBPROTOCOL } from '@gossip/protocol';
import {
  AmqpLink,
  answerProbe,
  createOpsServer,
  guardRequests,
  guardUpgrades,
  notFound,
  onClientError,
  redisReady,
  serverOptions,
  trustFunction,
  type Logger,
  type OpsServer,
} from '@gossip/servicekit';
import { ApiEvents } from './api-events.js';
import { BusConsumer } from './bus-consumer.js';
import { ConnectionCaps, UserConnectionCounts } from './caps.js';
import type { GatewayConfig } from './config.js';
import { Connection, type ConnectionEnv } from './connection.js';
import { Drains } from './drains.js';
import { EngineBus } from './engine-bus.js';
import { Heartbeat } from './heartbeat.js';
import { ConnectionLifecycle } from './lifecycle.js';
import { createGatewayMetrics, type GatewayMetrics } from './metrics.js';
import { Presence } from './presence.js';
import { ConnectionRegistry } from './registry.js';
import { FrameRouter } from './router.js';
import { SessionGuard } from './sessions.js';
import { Upgrader } from './upgrade.js';

export class Gateway {
  readonly metrics: GatewayMetrics;
  private readonly log: Logger;
  private readonly http: Server;
  /** The ops listener: `/metrics` and the probes, never the public port. */
  private readonly ops: OpsServer;
  private readonly wss: WsServer<typeof Connection>;
  private readonly redis: Redis;
  private readonly sub: Redis;
  private readonly presence: Presence;
  private readonly link: AmqpLink;
  private readonly registry = new ConnectionRegistry();
  private readonly drains: Drains;
  private readonly apiEvents: ApiEvents;
  private readonly heartbeat: Heartbeat;
  private draining = false;
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly cfg: GatewayConfig,
    logger: Logger,
  ) {
    const log = (this.log = logger.child({ component: 'gateway', instance: cfg.instanceId }));
    const metrics = (this.metrics = createGatewayMetrics());
    const registry = this.registry;
    const draining = (): boolean => this.draining;
    const exchange = deliveryExchange(cfg.amqpPrefix);
    this.redis = new Redis(cfg.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
    this.sub = new Redis(cfg.redisUrl, { lazyConnect: true });
    for (const r of [this.redis, this.sub]) {
      r.on('error', (err: unknown) => log.warn({ err }, 'redis error'));
    }
    const caps = new ConnectionCaps(cfg.caps);
    const userCounts = new UserConnectionCounts(
      this.redis,
      cfg.redisPrefix,
      cfg.instanceId,
      cfg.presenceTtlSeconds,
      cfg.caps.perUser,
    );
    const sessions = new SessionGuard(this.redis, cfg.redisPrefix, cfg.jwtKeys);
    this.presence = new Presence(
      this.redis,
      cfg.redisPrefix,
      cfg.instanceId,
      cfg.presenceTtlSeconds,
    );
    this.link = new AmqpLink({
      url: cfg.amqpUrl,
      logger: log,
      setup: (ch) => consumer.setup(ch),
      onState: (up) => {
        // Connections opened while the link was down never had their replay requested,
        // and replies to those asked for before went to the old (exclusive) queue.
        if (up) this.drains.relinked();
      },
    });
    const bus = new EngineBus(this.link, exchange, cfg.instanceId, log);
    this.drains = new Drains(
      { highWaterBytes: cfg.highWaterBytes, replayHoldMs: cfg.replayHoldMs },
      registry,
      bus,
      log,
    );
    const consumer = new BusConsumer(
      { exchange, amqpPrefix: cfg.amqpPrefix, instanceId: cfg.instanceId, prefetch: cfg.prefetch },
      registry,
      this.drains,
      metrics,
      log,
    );
    this.heartbeat = new Heartbeat(registry, this.presence, userCounts, this.drains, log);
    // Back from an outage (a restart loses every claim): claim now, not at the next
    // heartbeat, or engines park these users' messages as offline for up to TTL/3.
    this.redis.on('ready', () => void this.heartbeat.beat());
    this.apiEvents = new ApiEvents(this.sub, cfg.redisPrefix, registry, metrics, log);
    const router = new FrameRouter(
      { instanceId: cfg.instanceId, maxFrameBytes: cfg.maxFrameBytes, draining },
      bus,
      sessions,
      metrics,
      log,
    );
    const lifecycle = new ConnectionLifecycle(
      { instanceId: cfg.instanceId, maxFrameBytes: cfg.maxFrameBytes },
      registry,
      this.presence,
      caps,
      userCounts,
      this.drains,
      metrics,
      log,
    );
    const env: ConnectionEnv = {
      limits: cfg,
      metrics,
      log,
      handlers: {
        onFrame: (conn, data, isBinary) => router.onFrame(conn, data, isBinary),
        onClose: (conn, code) => lifecycle.close(conn, code),
        onStarved: (conn) => this.drains.starve(conn),
      },
    };
    this.wss = new WebSocketServer<typeof Connection>({
      noServer: true,
      WebSocket: Connection,
      // Compression would cost every connection a zlib context; frames are ciphertext anyway.
      perMessageDeflate: false,
      // The registry keeps the connections; ws's own tracking would be a second copy.
      clientTracking: false,
      // Room above the protocol limit so a slightly oversized frame gets a clear
      // `frame_too_large` error; far larger ones are cut off by ws with close code 1009.
      maxPayload: cfg.maxFrameBytes * 2,
      handleProtocols: (protocols) => (protocols.has(WS_SUBPROTOCOL) ? WS_SUBPROTOCOL : false),
    });
    const upgrader = new Upgrader(
      {
        allowedOrigins: cfg.allowedOrigins,
        trust: trustFunction(cfg.trustProxy),
        draining,
        accept: (conn, session) => lifecycle.open(conn, session, env),
      },
      this.wss,
      sessions,
      caps,
      userCounts,
      registry,
      metrics,
      log,
    );
    // Short timeouts so a slow client cannot hold sockets before the upgrade; a JSON 4xx
    // for what Node's parser refuses; handlers whose exceptions and rejections answer 500
    // for that request only (an unhandled one would end the process). The public port
    // answers the probes (for load balancers; Kubernetes probes the ops port) and 404 for
    // everything else, `/metrics` included.
    this.http = createServer(
      serverOptions(cfg.http),
      guardRequests(async (req, res) => {
        if (!(await answerProbe(req, res, () => this.checks()))) notFound(res);
      }, log),
    );
    this.http.on('clientError', onClientError);
    this.http.on('upgrade', guardUpgrades(upgrader.onUpgrade.bind(upgrader), log));
    this.ops = createOpsServer({
      registry: metrics.registry,
      checks: () => this.checks(),
      timeouts: cfg.http,
      log,
    });
  }

  /**
   * Connects to Redis and RabbitMQ and listens on the public and the ops port. Resolves with
   * the bound public port (the bound ops port is {@link opsPort}).
   */
  async start(): Promise<number> {
    // A pod may start before Redis answers: wait for it (not listening, so not ready).
    await Promise.all([
      redisReady(this.redis, this.log),
      redisReady(this.sub, this.log, 'redis subscriber'),
    ]);
    await this.apiEvents.start();
    await this.link.start();
    this.timers.push(
      setInterval(
        () => void this.heartbeat.beat(),
        Math.max(500, (this.cfg.presenceTtlSeconds * 1000) / 3),
      ),
      setInterval(() => this.heartbeat.pingAll(), this.cfg.pingIntervalMs),
      setInterval(() => this.drains.tick(), 250),
    );
    await this.ops.start(this.cfg.opsPort, this.cfg.opsHost);
    await new Promise<void>((resolve) => this.http.listen(this.cfg.port, this.cfg.host, resolve));
    const addr = this.http.address();
    const port = typeof addr === 'object' && addr ? addr.port : this.cfg.port;
    this.log.info({ port, opsPort: this.opsPort }, 'gateway listening');
    return port;
  }

  /** The bound port of the ops listener (`/metrics`, `/healthz`, `/readyz`; 0 before start). */
  get opsPort(): number {
    return this.ops.port;
  }

  /** `/readyz`: ready while not draining, with the RabbitMQ link up and Redis ready. */
  private checks(): Record<string, string> {
    return {
      amqp: this.link.up ? 'ok' : 'down',
      redis: this.redis.status === 'ready' ? 'ok' : this.redis.status,
      draining: this.draining ? 'draining' : 'ok',
    };
  }

  /**
   * Tells every client to reconnect elsewhere, stops accepting upgrades (readyz fails), and
   * closes what is left after the grace period.
   */
  async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    this.log.info({ connections: this.registry.size }, 'draining');
    for (const conn of this.registry.all()) {
      conn.push({ type: 'drain', reconnectAfterMs: this.cfg.drainReconnectMs });
    }
    const deadline = Date.now() + this.cfg.drainGraceMs;
    while (this.registry.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const conn of this.registry.all()) conn.close(1001, 'gateway shutting down');
    const users = this.registry.users();
    await Promise.allSettled(users.map((u) => this.presence.release(u)));
  }

  /** Stops everything; call `drain()` first for a graceful exit. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const conn of this.registry.all()) conn.terminate();
    await this.link.stop();
    this.redis.disconnect();
    this.sub.disconnect();
    await Promise.all([
      new Promise<void>((resolve) => this.http.close(() => resolve())),
      this.ops.stop(),
    ]);
    this.wss.close();
  }
}
