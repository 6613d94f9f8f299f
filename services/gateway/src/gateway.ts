/**
 * The gateway: holds clients' WebSocket connections, authenticates them at the upgrade,
 * keeps their presence in Redis, forwards `send`/`ack`/`signal` to the engines over
 * RabbitMQ and pushes what the engines route to it from its own queue.
 *
 * It keeps no message state of its own: MongoDB (through the engine) is the truth, and a
 * push the gateway drops (slow socket, closed socket, crash) is redelivered by the engine.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { Redis } from 'ioredis';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import WebSocket, { WebSocketServer, type RawData, type Server as WsServer } from 'ws';
import {
  deliveryExchange,
  encodeFrame,
  ENGINE_ROUTING_KEY,
  ERRORS,
  errorFrame,
  gatewayQueue,
  gatewayRoutingKey,
  parseClientFrame,
  PROTOCOL_VERSION,
  WS_PATH,
  WS_SUBPROTOCOL,
  type EngineMessage,
  type ErrorCode,
  type GatewayMessage,
  type ServerFrame,
  EVENTS_CHANNEL,
  REVOCATIONS_CHANNEL,
  CLOSE_CODES,
  parseGatewayMessage,
  peekFrameRef,
  parseContactEvent,
  parseRevocation,
} from '@gossip/protocol';
import {
  AmqpLink,
  redisReady,
  type Logger,
  type VerifiedToken,
  guardRequests,
  guardUpgrades,
  onClientError,
  serverOptions,
  clientAddress,
  trustFunction,
  type TrustFunction,
} from '@gossip/servicekit';
import { credentialFrom } from './auth.js';
import { SessionGuard } from './sessions.js';
import type { GatewayConfig } from './config.js';
import { createGatewayMetrics, type GatewayMetrics } from './metrics.js';
import { Presence } from './presence.js';
import { TokenBucket } from './ratelimit.js';
import { ConnectionCaps, UserConnectionCounts } from './caps.js';

/**
 * One client connection: the socket itself (ws constructs this class for every upgrade,
 * see the server's `WebSocket` option) with the gateway's state as plain fields, and the
 * socket's listeners shared by all sockets. An idle connection so costs no objects or
 * closures beyond ws's own; the rate limiter and the pending map come with the first frame.
 */
class Conn extends WebSocket {
  id = '';
  user = '';
  /** The client address it came from (see `GATEWAY_TRUST_PROXY`), for the per-address cap. */
  address = '';
  /** The gateway holding it, for the shared listeners. */
  gateway: Gateway | undefined = undefined;
  /** Created with the first frame. */
  bucket: TokenBucket | undefined = undefined;
  /** Sends waiting for `stored`: id -> arrival time (ms, monotonic clock). Created with the first. */
  pending: Map<string, number> | undefined = undefined;
  /** Last `at` stamped on a send: keeps this sender's messages strictly ordered. */
  lastAt = 0;
  alive = true;
  /** When this connection last asked for a replay after backpressure (see `refeed`). */
  lastReplayAt = 0;
  /** Frames refused by the rate limit since the last pause (see `onRateLimited`). */
  violations = 0;
  /** When the last one was refused (ms). */
  lastViolationAt = 0;
  /** The account id and session of the connection's token (see `SessionGuard`). */
  uid = '';
  sid = '';
  /** Closes the connection when its token expires; reset by an `auth` frame. */
  expiry: NodeJS.Timeout | undefined = undefined;
}

// The listeners every connection shares (ws calls them with the socket, a Conn, as `this`).
function onConnMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  const conn = this as Conn;
  conn.gateway?.onFrame(conn, data, isBinary);
}
function onConnPong(this: WebSocket): void {
  (this as Conn).alive = true;
}
function onConnError(this: WebSocket, err: Error): void {
  const conn = this as Conn;
  conn.gateway?.onSocketError(conn, err);
}
function onConnClose(this: WebSocket, code: number): void {
  const conn = this as Conn;
  conn.gateway?.onClose(conn, code);
}
/** Swallows errors on a socket before ws has taken it over (ws handles them after). */
const ignoreError = (): void => undefined;

/** Most sends one connection may have waiting for the engine at once. */
const MAX_PENDING_PER_CONN = 512;

export class Gateway {
  readonly metrics: GatewayMetrics;
  private readonly log: Logger;
  private readonly http: Server;
  /** The ops listener: `/metrics` and the probes, never the public port. */
  private readonly ops: Server;
  private readonly wss: WsServer<typeof Conn>;
  private readonly redis: Redis;
  private readonly sub: Redis;
  private readonly presence: Presence;
  private readonly sessions: SessionGuard;
  private readonly link: AmqpLink;
  private readonly exchange: string;
  private readonly conns = new Map<string, Conn>();
  /** A user's connections: the connection itself when there is one (the usual case). */
  private readonly byUser = new Map<string, Conn | Set<Conn>>();
  /** Connections that had a push skipped for backpressure: they ask for a replay once drained. */
  private readonly starved = new Set<Conn>();
  private connSeq = 0;
  private readonly caps: ConnectionCaps;
  private readonly userCounts: UserConnectionCounts;
  private readonly trust: TrustFunction;
  private draining = false;
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly cfg: GatewayConfig,
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'gateway', instance: cfg.instanceId });
    this.caps = new ConnectionCaps(cfg.caps);
    this.trust = trustFunction(cfg.trustProxy);
    this.metrics = createGatewayMetrics();
    this.exchange = deliveryExchange(cfg.amqpPrefix);
    this.redis = new Redis(cfg.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
    this.sub = new Redis(cfg.redisUrl, { lazyConnect: true });
    this.userCounts = new UserConnectionCounts(
      this.redis,
      cfg.redisPrefix,
      cfg.instanceId,
      cfg.presenceTtlSeconds,
      cfg.caps.perUser,
    );
    for (const r of [this.redis, this.sub]) {
      r.on('error', (err: unknown) => this.log.warn({ err }, 'redis error'));
    }
    // Back from an outage (a restart loses every claim): claim now, not at the next
    // heartbeat, or engines park these users' messages as offline for up to TTL/3.
    this.redis.on('ready', () => void this.heartbeat());
    this.sessions = new SessionGuard(this.redis, cfg.redisPrefix, cfg.jwtKeys);
    this.presence = new Presence(
      this.redis,
      cfg.redisPrefix,
      cfg.instanceId,
      cfg.presenceTtlSeconds,
    );
    this.link = new AmqpLink({
      url: cfg.amqpUrl,
      logger: this.log,
      setup: (ch) => this.setupAmqp(ch),
      onState: (up) => {
        // Connections opened while the link was down never had their replay requested.
        if (up) for (const c of this.conns.values()) void this.announce(c);
      },
    });
    this.wss = new WebSocketServer<typeof Conn>({
      noServer: true,
      WebSocket: Conn,
      // Compression would cost every connection a zlib context; frames are ciphertext anyway.
      perMessageDeflate: false,
      // The gateway keeps its own map of connections; ws's would be a second one.
      clientTracking: false,
      // Room above the protocol limit so a slightly oversized frame gets a clear
      // `frame_too_large` error; far larger ones are cut off by ws with close code 1009.
      maxPayload: cfg.maxFrameBytes * 2,
      handleProtocols: (protocols) => (protocols.has(WS_SUBPROTOCOL) ? WS_SUBPROTOCOL : false),
    });
    // Short timeouts so a slow client cannot hold sockets before the upgrade; a JSON 4xx
    // for what Node's parser refuses; handlers whose exceptions and rejections answer 500
    // for that request only (an unhandled one would end the process).
    this.http = createServer(
      serverOptions(cfg.http),
      guardRequests((req, res) => this.onHttp(req, res), this.log),
    );
    this.http.on('clientError', onClientError);
    this.http.on(
      'upgrade',
      guardUpgrades(
        (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head),
        this.log,
      ),
    );
    // The same guards on the ops listener. It has no `upgrade` listener, so an upgrade
    // request there is a plain request (404).
    this.ops = createServer(
      serverOptions(cfg.http),
      guardRequests((req, res) => this.onOps(req, res), this.log),
    );
    this.ops.on('clientError', onClientError);
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
    const revocations = this.cfg.redisPrefix + REVOCATIONS_CHANNEL;
    await this.sub.subscribe(this.cfg.redisPrefix + EVENTS_CHANNEL, revocations);
    this.sub.on('message', (channel: string, text: string) => {
      if (channel === revocations) this.onRevocation(text);
      else this.onContactEvent(text);
    });
    await this.link.start();
    this.timers.push(
      setInterval(
        () => void this.heartbeat(),
        Math.max(500, (this.cfg.presenceTtlSeconds * 1000) / 3),
      ),
      setInterval(() => this.pingAll(), this.cfg.pingIntervalMs),
      setInterval(() => this.refeed(), 250),
    );
    await new Promise<void>((resolve) =>
      this.ops.listen(this.cfg.opsPort, this.cfg.opsHost, resolve),
    );
    await new Promise<void>((resolve) => this.http.listen(this.cfg.port, this.cfg.host, resolve));
    const port = boundPort(this.http, this.cfg.port);
    this.log.info({ port, opsPort: this.opsPort }, 'gateway listening');
    return port;
  }

  /** The bound port of the ops listener (`/metrics`, `/healthz`, `/readyz`). */
  get opsPort(): number {
    return boundPort(this.ops, this.cfg.opsPort);
  }

  private get ready(): boolean {
    return !this.draining && this.link.up && this.redis.status === 'ready';
  }

  // ------------------------------------------------------------------ http

  /**
   * The public port's plain HTTP: the probes (for load balancers; Kubernetes probes the ops
   * port) and 404 for everything else, `/metrics` included.
   */
  private onHttp(req: IncomingMessage, res: ServerResponse): void {
    if (!this.onProbe(req, res)) notFound(res);
  }

  /** The ops listener: `/metrics` and the probes. */
  private async onOps(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.onProbe(req, res)) return;
    if (pathOf(req) === '/metrics') {
      const text = await this.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(text);
      return;
    }
    notFound(res);
  }

  /** Answers `/healthz` and `/readyz`; false for any other path. */
  private onProbe(req: IncomingMessage, res: ServerResponse): boolean {
    const path = pathOf(req);
    if (path === '/healthz') {
      json(res, 200, { status: 'ok' });
      return true;
    }
    if (path === '/readyz') {
      const checks = {
        amqp: this.link.up ? 'ok' : 'down',
        redis: this.redis.status === 'ready' ? 'ok' : this.redis.status,
        draining: this.draining ? 'draining' : 'ok',
      };
      json(res, this.ready ? 200 : 503, {
        status: this.ready ? 'ok' : 'unavailable',
        checks,
      });
      return true;
    }
    return false;
  }

  private refuse(socket: Duplex, status: number, code: ErrorCode, reason: string): void {
    this.metrics.upgradesRejected.inc({ reason });
    const body = JSON.stringify({ error: { code, message: ERRORS[code].message } });
    const statusText =
      {
        401: 'Unauthorized',
        403: 'Forbidden',
        404: 'Not Found',
        429: 'Too Many Requests',
        503: 'Service Unavailable',
      }[status] ?? 'Error';
    socket.end(
      `HTTP/1.1 ${status} ${statusText}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }

  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', ignoreError);
    const path = (req.url ?? '/').split('?')[0];
    if (path !== WS_PATH) return this.refuse(socket, 404, 'not_found', 'not_found');
    if (this.draining) return this.refuse(socket, 503, 'draining', 'draining');
    // Caps before the token: an address over its rate or cap costs no signature check.
    const address = clientAddress(req, this.trust);
    const capped = this.caps.admitAddress(address);
    if (capped) return this.refuse(socket, 429, 'rate_limited', capped);
    const origin = req.headers.origin;
    if (this.cfg.allowedOrigins.length > 0 && origin && !this.cfg.allowedOrigins.includes(origin)) {
      return this.refuse(socket, 403, 'forbidden', 'origin');
    }
    const credential = credentialFrom(req);
    if (!credential) return this.refuse(socket, 401, 'unauthorized', 'unauthorized');
    const checked =
      credential.kind === 'ticket'
        ? await this.sessions.checkTicket(credential.value)
        : await this.sessions.check(credential.value);
    if (!checked.ok) {
      if (checked.code === 'unavailable') return this.refuse(socket, 503, 'unavailable', 'redis');
      return this.refuse(socket, 401, checked.code, 'unauthorized');
    }
    if (this.draining) return this.refuse(socket, 503, 'draining', 'draining');
    const { session } = checked;
    // The user's connections on every gateway (Redis). Unavailable: the local cap below
    // still holds. An admitted upgrade refused below leaves its count one high until the
    // next heartbeat re-states this gateway's counts.
    const admitted = await this.userCounts
      .admit(session.username, this.countOf(session.username) + 1)
      .catch((err: unknown) => {
        this.log.warn({ err }, 'user connection counts unavailable; local cap only');
        return true;
      });
    if (!admitted) return this.refuse(socket, 429, 'rate_limited', 'user_cap');
    // Again after the await, which other upgrades from this address or user may have
    // completed in; from here to `onConnection` nothing yields, so the counts hold.
    if (this.caps.addressFull(address)) {
      return this.refuse(socket, 429, 'rate_limited', 'address_cap');
    }
    if (this.caps.userFull(this.countOf(session.username))) {
      return this.refuse(socket, 429, 'rate_limited', 'user_cap');
    }
    this.wss.handleUpgrade(req, socket, head, (conn) => {
      socket.off('error', ignoreError);
      conn.address = address;
      this.onConnection(conn, session);
    });
  }

  // ------------------------------------------------------------------ connections

  private onConnection(conn: Conn, session: VerifiedToken): void {
    const username = session.username;
    conn.id = `${this.cfg.instanceId}/${++this.connSeq}`;
    conn.user = username;
    conn.uid = session.uid;
    conn.sid = session.sid;
    this.armExpiry(conn, session.exp);
    conn.gateway = this;
    this.conns.set(conn.id, conn);
    const had = this.byUser.get(username);
    if (had === undefined) this.byUser.set(username, conn);
    else if (had instanceof Set) had.add(conn);
    else this.byUser.set(username, new Set([had, conn]));
    this.metrics.connections.set(this.conns.size);
    this.metrics.connectionsOpened.inc();
    this.caps.opened(conn.address);
    this.log.info({ conn: conn.id, user: conn.user }, 'connected');

    conn.on('message', onConnMessage);
    conn.on('pong', onConnPong);
    conn.on('error', onConnError);
    conn.on('close', onConnClose);

    this.send(conn, {
      type: 'hello',
      version: PROTOCOL_VERSION,
      username: conn.user,
      maxFrameBytes: this.cfg.maxFrameBytes,
      tokenExpiresInMs: Math.max(0, session.exp * 1000 - Date.now()),
    });
    void this.presence
      .claim([conn.user])
      .catch((err: unknown) => this.log.warn({ err }, 'presence claim failed'))
      .then(() => this.announce(conn));
  }

  /** Asks an engine to replay what is pending for this connection's user. */
  private async announce(conn: Conn): Promise<void> {
    if (!this.conns.has(conn.id)) return;
    try {
      await this.toEngine({
        op: 'connected',
        user: conn.user,
        gw: this.cfg.instanceId,
        conn: conn.id,
      });
    } catch (err) {
      // The link is down: `onState(up)` announces every connection again.
      this.log.warn({ err, conn: conn.id }, 'could not announce connection');
    }
  }

  /** How many connections `user` holds on this gateway. */
  private countOf(user: string): number {
    const c = this.byUser.get(user);
    return c === undefined ? 0 : c instanceof Set ? c.size : 1;
  }

  /** A user's connections on this gateway. */
  private connsOf(user: string): Iterable<Conn> {
    const c = this.byUser.get(user);
    return c === undefined ? [] : c instanceof Set ? c : [c];
  }

  /** @internal a socket's `error` listener. */
  onSocketError(conn: Conn, err: Error): void {
    this.log.info({ conn: conn.id, err: err.message }, 'socket error');
  }

  /** @internal a socket's `close` listener. */
  onClose(conn: Conn, code: number): void {
    clearTimeout(conn.expiry);
    if (!this.conns.delete(conn.id)) return;
    this.caps.closed(conn.address);
    this.starved.delete(conn);
    const had = this.byUser.get(conn.user);
    let last = had === conn;
    if (had instanceof Set) {
      had.delete(conn);
      if (had.size === 1) this.byUser.set(conn.user, had.values().next().value as Conn);
      last = had.size === 0;
    }
    if (last) {
      this.byUser.delete(conn.user);
      void this.presence
        .release(conn.user)
        .catch((err: unknown) => this.log.warn({ err }, 'presence release failed'));
    }
    this.metrics.connections.set(this.conns.size);
    this.metrics.connectionsClosed.inc();
    this.userCounts
      .set(conn.user, this.countOf(conn.user))
      .catch((err: unknown) => this.log.warn({ err }, 'user connection count update failed'));
    this.log.info({ conn: conn.id, user: conn.user, code }, 'disconnected');
  }

  /**
   * Writes a frame unless the socket is too far behind. Droppable frames (pushes the engine
   * will redeliver) are skipped over the high-water mark; past the hard limit the socket is
   * closed with 1013 (try again later) so memory never grows without bound.
   */
  private send(conn: Conn, frame: ServerFrame, droppable = false): boolean {
    const ws = conn;
    if (ws.readyState !== ws.OPEN) return false;
    if (ws.bufferedAmount > this.cfg.maxBufferedBytes) {
      this.metrics.slowClosed.inc();
      this.log.warn({ conn: conn.id, buffered: ws.bufferedAmount }, 'closing slow socket');
      ws.close(1013, 'too slow');
      return false;
    }
    if (droppable && ws.bufferedAmount > this.cfg.highWaterBytes) {
      this.metrics.backpressureSkipped.inc();
      this.starved.add(conn);
      return false;
    }
    ws.send(encodeFrame(frame));
    return true;
  }

  private sendError(conn: Conn, code: ErrorCode, message?: string, ref?: string): void {
    this.metrics.errors.inc({ code });
    this.send(conn, errorFrame(code, message, ref));
  }

  /** @internal a socket's `message` listener. */
  onFrame(conn: Conn, data: RawData, isBinary: boolean): void {
    // The rate limit comes first: a flood costs a token check per frame, never a parse.
    conn.bucket ??= new TokenBucket(this.cfg.ratePerSecond, this.cfg.rateBurst);
    const limited = !conn.bucket.take();
    const raw = Array.isArray(data)
      ? Buffer.concat(data as Buffer[])
      : data instanceof ArrayBuffer
        ? new Uint8Array(data)
        : (data as Buffer);
    if (limited) return this.onRateLimited(conn, raw);
    if (isBinary) {
      return this.sendError(conn, 'bad_frame', 'Frames are JSON text, not binary.');
    }
    const parsed = parseClientFrame(raw, { maxBytes: this.cfg.maxFrameBytes });
    if (!parsed.ok) {
      return this.sendError(conn, parsed.error.code, parsed.error.message, parsed.error.ref);
    }
    const frame = parsed.frame;
    this.metrics.framesIn.inc({ type: frame.type });
    const reply = { gw: this.cfg.instanceId, conn: conn.id };
    switch (frame.type) {
      case 'auth':
        void this.onAuth(conn, frame.token);
        return;
      case 'ping':
        this.send(conn, frame.ts === undefined ? { type: 'pong' } : { type: 'pong', ts: frame.ts });
        return;
      case 'send': {
        if (this.draining) return this.sendError(conn, 'draining', undefined, frame.id);
        const pending = (conn.pending ??= new Map());
        if (pending.size >= MAX_PENDING_PER_CONN && !pending.has(frame.id)) {
          return this.sendError(conn, 'rate_limited', 'Too many sends in flight.', frame.id);
        }
        if (!pending.has(frame.id)) pending.set(frame.id, performance.now());
        const at = Math.max(Date.now(), conn.lastAt + 1);
        conn.lastAt = at;
        const msg: EngineMessage = {
          op: 'send',
          id: frame.id,
          from: conn.user,
          to: frame.to,
          kind: frame.kind,
          body: frame.body,
          at,
          ...reply,
        };
        this.toEngine(msg).catch((err: unknown) => {
          pending.delete(frame.id);
          this.log.warn({ err, conn: conn.id, id: frame.id }, 'publish to engine failed');
          this.sendError(conn, 'unavailable', undefined, frame.id);
        });
        return;
      }
      case 'ack':
        this.toEngine({ op: 'ack', user: conn.user, ids: frame.ids, ...reply }).catch(
          (err: unknown) => {
            this.log.warn({ err, conn: conn.id }, 'publish ack failed');
            this.sendError(conn, 'unavailable', 'Ack not recorded; send it again.', frame.ids[0]);
          },
        );
        return;
      case 'signal': {
        const msg: EngineMessage = {
          op: 'signal',
          from: conn.user,
          to: frame.to,
          signal: frame.signal,
          ...reply,
        };
        if (frame.body !== undefined) msg.body = frame.body;
        this.toEngine(msg, false).catch(() => this.sendError(conn, 'unavailable'));
        return;
      }
    }
  }

  /**
   * A frame over the connection's rate: refused unread (its `ref` peeked from its first
   * bytes, so the sender can retry it), and after `rateViolationsMax` of them with no pause
   * long enough to refill the bucket in between, the connection is closed with
   * `CLOSE_CODES.rateLimited`: a client that ignores `rate_limited` is not served forever.
   */
  private onRateLimited(conn: Conn, raw: Uint8Array): void {
    if (conn.readyState !== conn.OPEN) return;
    const now = Date.now();
    const refillMs = (this.cfg.rateBurst / this.cfg.ratePerSecond) * 1000;
    if (now - conn.lastViolationAt > refillMs) conn.violations = 0;
    conn.lastViolationAt = now;
    conn.violations += 1;
    if (conn.violations >= this.cfg.rateViolationsMax) {
      this.metrics.rateLimitClosed.inc();
      this.log.info({ conn: conn.id, user: conn.user }, 'closing a connection over its rate limit');
      conn.close(CLOSE_CODES.rateLimited, 'rate limit exceeded');
      return;
    }
    this.sendError(conn, 'rate_limited', undefined, peekFrameRef(raw));
  }

  private toEngine(msg: EngineMessage, persistent = true): Promise<void> {
    return this.link.publish(this.exchange, ENGINE_ROUTING_KEY, msg, {
      persistent,
      messageId: msg.op === 'send' ? msg.id : undefined,
      type: msg.op,
    });
  }

  // ------------------------------------------------------------------ from the engines

  private async setupAmqp(ch: ConfirmChannel): Promise<void> {
    const queue = gatewayQueue(this.cfg.amqpPrefix, this.cfg.instanceId);
    await ch.assertExchange(this.exchange, 'topic', { durable: true });
    // Exclusive: it belongs to this connection and vanishes with it (a dead gateway's
    // notifications are worthless; the engine replays from MongoDB on reconnect).
    await ch.assertQueue(queue, { exclusive: true, durable: false, autoDelete: true });
    await ch.bindQueue(queue, this.exchange, gatewayRoutingKey(this.cfg.instanceId));
    await ch.prefetch(this.cfg.prefetch);
    await ch.consume(queue, (msg) => this.onBusMessage(ch, msg), { noAck: false });
  }

  private onBusMessage(ch: ConfirmChannel, msg: ConsumeMessage | null): void {
    if (!msg) return;
    // Validated against the protocol's schemas before any field is read: what does not
    // match is counted and dropped (acked below), and never reaches a client.
    const parsed = parseGatewayMessage(msg.content);
    if (!parsed.ok) {
      this.metrics.busInvalid.inc({ reason: parsed.reason });
      this.log.warn(
        { reason: parsed.reason, detail: parsed.detail },
        'invalid bus message dropped',
      );
    } else {
      try {
        this.dispatch(parsed.message);
      } catch (err) {
        this.log.error({ err, op: parsed.message.op }, 'bus message handler failed');
      }
    }
    try {
      ch.ack(msg);
    } catch {
      // channel gone: the message is a notification and is redelivered from MongoDB
    }
  }

  private dispatch(m: GatewayMessage): void {
    switch (m.op) {
      case 'stored': {
        const conn = this.conns.get(m.conn);
        if (!conn) return;
        const t0 = conn.pending?.get(m.id);
        conn.pending?.delete(m.id);
        if (t0 !== undefined) this.metrics.acceptLatency.observe((performance.now() - t0) / 1000);
        if (this.send(conn, { type: 'accepted', id: m.id })) this.metrics.accepted.inc();
        return;
      }
      case 'error': {
        const conn = this.conns.get(m.conn);
        if (!conn) return;
        if (m.ref) conn.pending?.delete(m.ref);
        this.sendError(conn, m.code, m.message, m.ref);
        return;
      }
      case 'push': {
        const targets = m.conn
          ? [this.conns.get(m.conn)].filter((c): c is Conn => c?.user === m.to)
          : [...this.connsOf(m.to)];
        for (const conn of targets) {
          // Receipts and signals are small; messages are the bulk and are redelivered.
          if (!this.send(conn, m.frame, m.frame.type === 'deliver')) continue;
          this.metrics.pushed.inc({ type: m.frame.type });
          if (m.frame.type === 'deliver') {
            this.metrics.delivered.inc();
            if (m.live) this.metrics.deliverLatency.observe((Date.now() - m.frame.sentAt) / 1000);
          }
        }
        return;
      }
    }
  }

  // ------------------------------------------------------------------ sessions

  /**
   * Closes the connection with `CLOSE_CODES.tokenExpired` when its token expires (`exp`,
   * seconds), unless an `auth` frame re-arms it first.
   */
  private armExpiry(conn: Conn, exp: number): void {
    clearTimeout(conn.expiry);
    // setTimeout holds at most 2^31-1 ms; tokens live minutes, so this only guards bad input.
    const ms = Math.min(Math.max(0, exp * 1000 - Date.now()), 2 ** 31 - 1);
    conn.expiry = setTimeout(() => {
      this.metrics.sessionsClosed.inc({ reason: 'expired' });
      this.log.info({ conn: conn.id, user: conn.user }, 'token expired; closing');
      conn.close(CLOSE_CODES.tokenExpired, 'token expired');
    }, ms);
    conn.expiry.unref();
  }

  /**
   * An `auth` frame: a fresh token of the same account (same `sub` and `uid`) for a live
   * session moves the connection's expiry (and its session, after a new login) forward.
   * Anything else is an error frame; the connection keeps its current expiry.
   */
  private async onAuth(conn: Conn, token: string): Promise<void> {
    const checked = await this.sessions.check(token);
    if (conn.readyState !== conn.OPEN) return;
    if (!checked.ok) return this.sendError(conn, checked.code);
    const { session } = checked;
    if (session.username !== conn.user || session.uid !== conn.uid) {
      return this.sendError(conn, 'invalid_token', 'The token is for another account.');
    }
    conn.sid = session.sid;
    this.armExpiry(conn, session.exp);
    this.send(conn, {
      type: 'authenticated',
      tokenExpiresInMs: Math.max(0, session.exp * 1000 - Date.now()),
    });
  }

  /**
   * Sessions the api ended (logout, logout everywhere, password change, refresh-token
   * reuse, account deletion): their sockets here are closed with
   * `CLOSE_CODES.sessionRevoked`.
   */
  private onRevocation(text: string): void {
    const parsed = parseRevocation(text);
    if (!parsed.ok) {
      this.log.warn('invalid revocation message dropped');
      return;
    }
    const msg = parsed.message;
    const sids = msg.sids && new Set(msg.sids);
    const except = new Set(msg.except ?? []);
    for (const conn of [...this.connsOf(msg.user)]) {
      if (sids ? !sids.has(conn.sid) : except.has(conn.sid)) continue;
      this.metrics.sessionsClosed.inc({ reason: 'revoked' });
      this.log.info(
        { conn: conn.id, user: conn.user, reason: msg.reason },
        'session revoked; closing',
      );
      conn.close(CLOSE_CODES.sessionRevoked, 'session revoked');
    }
  }

  /** A contact event the api published on Redis: push it if its recipient is here. */
  private onContactEvent(text: string): void {
    // Validated like the RabbitMQ messages: only a well-formed contact frame reaches a client.
    const parsed = parseContactEvent(text);
    if (!parsed.ok) {
      this.metrics.busInvalid.inc({ reason: parsed.reason });
      this.log.warn(
        { reason: parsed.reason, detail: parsed.detail },
        'invalid contact event dropped',
      );
      return;
    }
    const { to, frame } = parsed.message;
    for (const conn of this.connsOf(to)) {
      if (this.send(conn, frame, true)) this.metrics.pushed.inc({ type: 'contact' });
    }
  }

  // ------------------------------------------------------------------ timers

  private async heartbeat(): Promise<void> {
    try {
      const lost = await this.presence.claim([...this.byUser.keys()]);
      for (const user of lost) {
        this.log.info({ user }, 'presence was lost; re-announcing');
        for (const conn of this.connsOf(user)) void this.announce(conn);
      }
    } catch (err) {
      this.log.warn({ err }, 'presence heartbeat failed');
    }
    try {
      await this.userCounts.refresh([...this.byUser.keys()].map((u) => [u, this.countOf(u)]));
    } catch (err) {
      this.log.warn({ err }, 'user connection count heartbeat failed');
    }
  }

  /**
   * Sockets that had pushes skipped and have drained below half the high-water mark ask the
   * engine for a replay (at most once a second each), so a slow reader catches up at the
   * pace it reads instead of waiting for the redelivery timeout.
   */
  private refeed(): void {
    const now = Date.now();
    for (const conn of this.starved) {
      if (now - conn.lastReplayAt < 1000) continue;
      if (conn.bufferedAmount > this.cfg.highWaterBytes / 2) continue;
      this.starved.delete(conn);
      conn.lastReplayAt = now;
      void this.announce(conn);
    }
  }

  private pingAll(): void {
    for (const conn of this.conns.values()) {
      if (!conn.alive) {
        this.log.info({ conn: conn.id }, 'no pong; terminating');
        conn.terminate();
        continue;
      }
      conn.alive = false;
      conn.ping();
    }
  }

  // ------------------------------------------------------------------ shutdown

  /**
   * Tells every client to reconnect elsewhere, stops accepting upgrades (readyz fails), and
   * closes what is left after the grace period.
   */
  async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    this.log.info({ connections: this.conns.size }, 'draining');
    for (const conn of this.conns.values()) {
      this.send(conn, { type: 'drain', reconnectAfterMs: this.cfg.drainReconnectMs });
    }
    const deadline = Date.now() + this.cfg.drainGraceMs;
    while (this.conns.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const conn of this.conns.values()) conn.close(1001, 'gateway shutting down');
    const users = [...this.byUser.keys()];
    await Promise.allSettled(users.map((u) => this.presence.release(u)));
  }

  /** Stops everything; call `drain()` first for a graceful exit. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const conn of this.conns.values()) conn.terminate();
    await this.link.stop();
    this.redis.disconnect();
    this.sub.disconnect();
    await Promise.all(
      [this.http, this.ops].map(
        (srv) => new Promise<void>((resolve) => srv.close(() => resolve())),
      ),
    );
    this.wss.close();
  }
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? '/').split('?')[0] ?? '/';
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function notFound(res: ServerResponse): void {
  json(res, 404, { error: { code: 'not_found', message: ERRORS.not_found.message } });
}

/** The port `server` is bound to (`fallback` before it listens). */
function boundPort(server: Server, fallback: number): number {
  const addr = server.address();
  return typeof addr === 'object' && addr ? addr.port : fallback;
}
