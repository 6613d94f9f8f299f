/**
 * The engine: consumes the shared engine queue (competing consumers, manual acks), stores
 * each message in MongoDB before the gateway may answer `accepted`, routes deliveries to
 * the gateway holding the recipient, replays on connect, deletes on the recipient's ack,
 * redelivers what stays unacked and expires what outlives retention.
 *
 * Safe with several replicas: the unique `_id` makes stores idempotent, redelivery claims
 * are `findOneAndUpdate` on the claimed `dueAt`, deletes are filtered by recipient, and a
 * RabbitMQ message is acked only after its MongoDB work is done (a crash redelivers it).
 */
import { Redis } from 'ioredis';
import { MongoClient, type Db } from 'mongodb';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import {
  contactDocId,
  deliveryExchange,
  engineQueue,
  ENGINE_ROUTING_KEY,
  gatewayRoutingKey,
  sendPermission,
  type BusAck,
  type BusConnected,
  type BusSend,
  type BusSignal,
  contactFrameOf,
  type DeliverFrame,
  type EngineMessage,
  type ErrorCode,
  type GatewayMessage,
  type SendDecision,
  parseEngineMessage,
} from '@gossip/protocol';
import {
  AmqpLink,
  redisReady,
  connectUntil,
  type Logger,
  createOpsServer,
  type OpsServer,
} from '@gossip/servicekit';
import type { EngineConfig } from './config.js';
import { createEngineMetrics, type EngineMetrics } from './metrics.js';
import { lookupPresence } from './presence.js';
import {
  ensureIndexes,
  isDuplicateKey,
  MessageInserter,
  stores,
  type MessageDoc,
  type Stores,
} from './store.js';

/**
 * Returns `p` after marking its rejection as handled for now: for a promise awaited only
 * later (after other awaits), whose early failure must not count as "unhandled".
 */
function settledLater<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/** Messages remembered for acks without a read (about 100 bytes each). */
const RECENT_MAX = 50_000;

/** What storing one send came to, before it is answered and routed in its sender's order. */
type Stored =
  | { outcome: 'refused'; code: ErrorCode }
  | { outcome: 'inserted'; doc: MessageDoc }
  | { outcome: 'duplicate' }
  | { outcome: 'conflict' };

export class Engine {
  readonly metrics: EngineMetrics;
  private readonly log: Logger;
  private readonly mongo: MongoClient;
  private db!: Db;
  private s!: Stores;
  private inserter!: MessageInserter;
  private readonly redis: Redis;
  private readonly link: AmqpLink;
  private readonly exchange: string;
  private readonly ops: OpsServer;
  private consumerTag: string | undefined;
  private readonly inflight = new Set<Promise<void>>();
  /** Per-sender chains: one sender's sends are stored and routed in arrival order. */
  private readonly chains = new Map<string, Promise<void>>();
  private timers: NodeJS.Timeout[] = [];
  private scanning = false;
  /** Pairs recently found allowed to message: `from>to` -> valid until (ms). */
  private readonly okCache = new Map<string, number>();
  /**
   * Who sent recently stored or pushed messages to whom, so the ack of a message this
   * engine handled needs no read before its delete (oldest dropped past RECENT_MAX).
   * `from` and `to` never change once stored; a miss just reads the document.
   */
  private readonly recent = new Map<string, { from: string; to: string; sentAt: Date }>();
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
    });
    this.redis = new Redis(cfg.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
    this.redis.on('error', (err: unknown) => this.log.warn({ err }, 'redis error'));
    this.link = new AmqpLink({
      url: cfg.amqpUrl,
      logger: this.log,
      setup: (ch) => this.setupAmqp(ch),
    });
    this.ops = createOpsServer({
      registry: this.metrics.registry,
      checks: () => this.checks(),
      timeouts: cfg.http,
      log: this.log,
    });
  }

  private async checks(): Promise<Record<string, string>> {
    const mongo = await this.db
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

  /** Connects everything, creates indexes, starts consuming and the periodic jobs. */
  async start(): Promise<number> {
    // A pod may start before its stores answer: wait for them (not listening, so not ready).
    await connectUntil('mongodb', () => this.mongo.connect(), {
      log: this.log,
      stopped: () => this.stopping,
    });
    this.db = this.mongo.db(this.cfg.mongoDb);
    this.s = stores(this.db);
    this.inserter = new MessageInserter(this.s.messages, this.cfg.prefetch, (n) =>
      this.metrics.storeBatch.observe(n),
    );
    await ensureIndexes(this.s);
    await redisReady(this.redis, this.log);
    await this.link.start();
    const every = (ms: number, job: () => Promise<void>): void => {
      this.timers.push(
        setInterval(() => {
          job().catch((err: unknown) => this.log.warn({ err }, 'periodic job failed'));
        }, ms),
      );
    };
    every(this.cfg.scanIntervalMs, () => this.scanRedeliveries());
    every(this.cfg.sweepIntervalSeconds * 1000, () => this.sweepExpired().then(() => undefined));
    every(this.cfg.statsIntervalMs, () => this.refreshStats());
    void this.refreshStats().catch(() => undefined);
    const port = await this.ops.start(this.cfg.port, this.cfg.host);
    this.log.info({ port }, 'engine listening');
    return port;
  }

  private async setupAmqp(ch: ConfirmChannel): Promise<void> {
    const queue = engineQueue(this.cfg.amqpPrefix);
    await ch.assertExchange(this.exchange, 'topic', { durable: true });
    await ch.assertQueue(queue, {
      durable: true,
      arguments: { 'x-queue-type': this.cfg.queueType },
    });
    await ch.bindQueue(queue, this.exchange, ENGINE_ROUTING_KEY);
    await ch.prefetch(this.cfg.prefetch);
    if (this.stopping) return;
    const { consumerTag } = await ch.consume(queue, (msg) => this.onMessage(ch, msg), {
      noAck: false,
    });
    this.consumerTag = consumerTag;
  }

  // ------------------------------------------------------------------ consuming

  private onMessage(ch: ConfirmChannel, msg: ConsumeMessage | null): void {
    if (!msg) return;
    // Validated against the protocol's schemas before anything reads a field: a message
    // no handler can take (an unknown op, a missing field) would otherwise throw inside
    // amqplib's dispatch, lose the channel and come back on the next one, forever.
    const parsed = parseEngineMessage(msg.content);
    if (!parsed.ok) {
      this.metrics.busInvalid.inc({ reason: parsed.reason });
      this.log.warn(
        { deliveryTag: msg.fields.deliveryTag, reason: parsed.reason, detail: parsed.detail },
        'invalid bus message dropped',
      );
      try {
        ch.ack(msg);
      } catch {
        // channel gone: it is redelivered and dropped again
      }
      return;
    }
    const m = parsed.message;
    this.metrics.busMessages.inc({ op: m.op });
    const work = (m.op === 'send' ? this.onSend(m) : this.handle(m)).then(
      () => {
        try {
          ch.ack(msg);
        } catch {
          // channel gone: RabbitMQ redelivers, and every handler is idempotent
        }
      },
      async (err: unknown) => {
        this.metrics.errors.inc({ code: 'internal' });
        // Quorum queues count redeliveries. Back off (MongoDB may be down), and give up on a
        // message that keeps failing so it cannot hold a prefetch slot forever: a dropped
        // send was never accepted (the client resends), a dropped ack leaves the message to
        // be redelivered and acked again, a dropped connect leaves parked messages for the
        // next connect.
        const count = Number(msg.properties.headers?.['x-delivery-count'] ?? 0);
        if (count >= this.cfg.maxRedeliveries) {
          this.log.error({ err, op: m.op, count }, 'handler keeps failing; message dropped');
          try {
            ch.ack(msg);
          } catch {
            // channel gone
          }
          return;
        }
        this.log.warn({ err, op: m.op, count }, 'handler failed; requeueing');
        await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** Math.min(count, 5))));
        try {
          ch.nack(msg, false, true);
        } catch {
          // channel gone: redelivered anyway
        }
      },
    );
    this.inflight.add(work);
    void work.finally(() => this.inflight.delete(work));
  }

  private chained<T>(key: string, job: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev.then(job, job);
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(key, tail);
    void tail.then(() => {
      if (this.chains.get(key) === tail) this.chains.delete(key);
    });
    return next;
  }

  private handle(m: Exclude<EngineMessage, BusSend>): Promise<void> {
    switch (m.op) {
      case 'ack':
        return this.onAck(m);
      case 'connected':
        return this.onConnected(m);
      case 'signal':
        return this.onSignal(m);
    }
  }

  private toGateway(gw: string, msg: GatewayMessage, persistent = false): Promise<void> {
    return this.link.publish(this.exchange, gatewayRoutingKey(gw), msg, { persistent });
  }

  private replyError(
    r: { gw: string; conn: string },
    code: ErrorCode,
    ref?: string,
    message?: string,
  ): Promise<void> {
    this.metrics.errors.inc({ code });
    const msg: GatewayMessage = { op: 'error', conn: r.conn, code };
    if (ref !== undefined) msg.ref = ref;
    if (message !== undefined) msg.message = message;
    return this.toGateway(r.gw, msg);
  }

  /**
   * Who may message whom: the api's contact documents. An `ok` is remembered for
   * `ENGINE_PERMISSION_CACHE_MS` (1 s) per pair, which halves the MongoDB reads of a busy
   * conversation; refusals are never cached, and a block takes effect within that time.
   */
  private async permission(from: string, to: string): Promise<SendDecision | 'unknown'> {
    const key = `${from}>${to}`;
    const hit = this.okCache.get(key);
    if (hit !== undefined && hit > Date.now()) return 'ok';
    const decision = await this.lookupPermission(from, to);
    if (decision === 'ok' && this.cfg.permissionCacheMs > 0) {
      if (this.okCache.size >= 50_000) this.okCache.clear();
      this.okCache.set(key, Date.now() + this.cfg.permissionCacheMs);
    } else {
      this.okCache.delete(key);
    }
    return decision;
  }

  private async lookupPermission(from: string, to: string): Promise<SendDecision | 'unknown'> {
    // Two lookups by `_id` rather than one `$in`: FerretDB only uses the index for equality.
    const projection = { state: 1, blocked: 1 };
    const [senderView, recipientView] = await Promise.all([
      this.s.contacts.findOne({ _id: contactDocId(from, to) }, { projection }),
      this.s.contacts.findOne({ _id: contactDocId(to, from) }, { projection }),
    ]);
    const decision = sendPermission(senderView, recipientView);
    if (decision !== 'not_contact') return decision;
    // The api keys accounts by username (`users._id`).
    const user = await this.s.users.findOne({ _id: to }, { projection: { _id: 1 } });
    return user ? 'not_contact' : 'unknown';
  }

  /**
   * A send: checked and stored at once, so sends from many senders share one store batch
   * (see {@link MessageInserter}), then answered and routed in its sender's arrival order.
   */
  private onSend(m: BusSend): Promise<void> {
    // Awaited in the chain below, possibly after earlier sends of this sender.
    const stored = settledLater(this.store(m));
    // The chain orders the publishes; their confirms are awaited after it (one channel
    // keeps publishes in order), so a sender's next message need not wait for the broker
    // to confirm this one's `stored` and `push`. The bus message is acked after both.
    return this.chained(m.from, async (): Promise<Promise<void>[]> => {
      const s = await stored;
      switch (s.outcome) {
        case 'refused':
          return [this.replyError(m, s.code, m.id)];
        case 'conflict':
          return [this.replyError(m, 'id_conflict', m.id)];
        case 'duplicate':
          this.metrics.duplicates.inc();
          // Stored before (a resend, or RabbitMQ redelivering after an engine crash): answer
          // `stored` again but do not route again, or every resend would multiply
          // deliveries. If the crash came before routing, the redelivery scan sends it at
          // its `dueAt`.
          return [this.toGateway(m.gw, { op: 'stored', conn: m.conn, id: m.id })];
        case 'inserted': {
          const confirms = [
            settledLater(this.toGateway(m.gw, { op: 'stored', conn: m.conn, id: m.id })),
          ];
          const gws = await this.presence(s.doc.to);
          const frame = this.deliverFrame(s.doc);
          for (const gw of gws) {
            confirms.push(this.toGateway(gw, { op: 'push', to: s.doc.to, live: true, frame }));
            this.metrics.delivered.inc();
          }
          return confirms;
        }
      }
    }).then((confirms) => Promise.all(confirms).then(() => undefined));
  }

  private async store(m: BusSend): Promise<Stored> {
    const permitted = settledLater(this.permission(m.from, m.to));
    // A sender's sends reach the inserter in arrival order (its batches keep that order),
    // so when two copies of one id arrive (a resend through another gateway), the first
    // copy's stamp is the one stored. Otherwise one message could keep the first copy's
    // stamp and the next the second's, and a replay, which sorts by stamp, would show
    // them out of order. Only the hand-over to the inserter waits here, not the insert.
    const queued = await this.chained(`store:${m.from}`, async () => {
      const decision = await permitted;
      if (decision !== 'ok') return { decision };
      const doc = this.messageDoc(m);
      return { decision, doc, inserted: settledLater(this.inserter.insert(doc)) };
    });
    if (!queued.doc) {
      const d = queued.decision;
      return { outcome: 'refused', code: d === 'unknown' ? 'unknown_recipient' : d };
    }
    const doc = queued.doc;
    if ((await queued.inserted) === 'inserted') {
      this.remember(doc);
      this.metrics.accepted.inc();
      this.metrics.acceptLatency.observe(Math.max(0, Date.now() - m.at) / 1000);
      return { outcome: 'inserted', doc };
    }
    const existing = await this.s.messages.findOne(
      { _id: m.id },
      { projection: { from: 1, to: 1 } },
    );
    if (existing && (existing.from !== m.from || existing.to !== m.to)) {
      return { outcome: 'conflict' };
    }
    return { outcome: 'duplicate' };
  }

  private messageDoc(m: BusSend): MessageDoc {
    return {
      _id: m.id,
      from: m.from,
      to: m.to,
      kind: m.kind,
      body: m.body,
      sentAt: new Date(m.at),
      seq: m.at,
      attempts: 0,
      deliveredAt: null,
      // Assume the live delivery happens; if the recipient is offline, the scan finds it
      // then and parks it (dueAt null) until the recipient connects.
      dueAt: new Date(Date.now() + this.cfg.redeliverySeconds * 1000),
    };
  }

  private deliverFrame(d: MessageDoc): DeliverFrame {
    return {
      type: 'deliver',
      id: d._id,
      from: d.from,
      sentAt: d.sentAt.getTime(),
      kind: d.kind,
      body: d.body,
    };
  }

  private async presence(user: string): Promise<string[]> {
    try {
      return await lookupPresence(this.redis, this.cfg.redisPrefix, user);
    } catch (err) {
      // Presence unknown: treat as offline; the message waits in MongoDB for a replay.
      this.log.warn({ err }, 'presence lookup failed');
      return [];
    }
  }

  private async onConnected(m: BusConnected): Promise<void> {
    const push = (frame: Extract<GatewayMessage, { op: 'push' }>['frame']): Promise<void> =>
      this.toGateway(m.gw, { op: 'push', to: m.user, conn: m.conn, frame });

    // Contact events first: an `accepted` may carry the key the messages need. Like the
    // messages below, read a page at a time (never all of a user's backlog at once), in
    // (at, _id) order; they stay until the client acks them.
    let afterEvent: { at: Date; id: string } | undefined;
    for (;;) {
      const filter = afterEvent
        ? {
            to: m.user,
            $or: [
              { at: { $gt: afterEvent.at } },
              { at: afterEvent.at, _id: { $gt: afterEvent.id } },
            ],
          }
        : { to: m.user };
      const page = await this.s.events
        .find(filter)
        .sort({ at: 1, _id: 1 })
        .limit(this.cfg.replayBatch)
        .toArray();
      this.metrics.replayPages.inc({ kind: 'events' });
      for (const e of page) await push(contactFrameOf(e));
      const last = page[page.length - 1];
      if (!last || page.length < this.cfg.replayBatch) break;
      afterEvent = { at: last.at, id: last._id };
    }

    let after: { seq: number; id: string } | undefined;
    for (;;) {
      const filter = after
        ? {
            to: m.user,
            $or: [{ seq: { $gt: after.seq } }, { seq: after.seq, _id: { $gt: after.id } }],
          }
        : { to: m.user };
      const batch = await this.s.messages
        .find(filter)
        .sort({ seq: 1, _id: 1 })
        .limit(this.cfg.replayBatch)
        .toArray();
      this.metrics.replayPages.inc({ kind: 'messages' });
      if (batch.length === 0) break;
      const now = new Date();
      await this.s.messages.updateMany(
        { _id: { $in: batch.map((d) => d._id) }, to: m.user },
        {
          $set: {
            deliveredAt: now,
            dueAt: new Date(now.getTime() + this.cfg.redeliverySeconds * 1000),
          },
          $inc: { attempts: 1 },
        },
      );
      for (const d of batch) {
        this.remember(d);
        await push(this.deliverFrame(d));
        this.metrics.delivered.inc();
      }
      const last = batch[batch.length - 1]!;
      after = { seq: last.seq, id: last._id };
      if (batch.length < this.cfg.replayBatch) break;
    }

    // Receipts for messages acked while this user was away: best effort, pushed once,
    // a page at a time in `_id` order (the cursor, not the delete, moves the page on).
    let afterReceipt: string | undefined;
    for (;;) {
      const filter =
        afterReceipt === undefined ? { to: m.user } : { to: m.user, _id: { $gt: afterReceipt } };
      const page = await this.s.receipts
        .find(filter)
        .sort({ _id: 1 })
        .limit(this.cfg.replayBatch)
        .toArray();
      this.metrics.replayPages.inc({ kind: 'receipts' });
      for (const r of page) {
        await push({ type: 'delivered', id: r._id, to: r.from, at: r.at.getTime() });
      }
      if (page.length > 0) {
        await this.s.receipts.deleteMany({ _id: { $in: page.map((r) => r._id) }, to: m.user });
      }
      const last = page[page.length - 1];
      if (!last || page.length < this.cfg.replayBatch) break;
      afterReceipt = last._id;
    }
  }

  /**
   * Deletes the acked messages (and contact events) addressed to `m.user`. Every lookup
   * and delete filters on `_id` alone: FerretDB's SQLite backend uses the primary key only
   * for a filter that is exactly `{_id}` and scans the whole collection for anything more
   * (`{_id, to}` included), so the recipient check is done here on the document read.
   * Exactly one engine's `deleteOne` removes a document, and only that one sends the
   * receipt.
   */
  private async onAck(m: BusAck): Promise<void> {
    const now = Date.now();
    await Promise.all(m.ids.map((id) => this.ackOne(m, id, now)));
  }

  private remember(d: Pick<MessageDoc, '_id' | 'from' | 'to' | 'sentAt'>): void {
    if (this.recent.size >= RECENT_MAX) this.recent.delete(this.recent.keys().next().value!);
    this.recent.set(d._id, { from: d.from, to: d.to, sentAt: d.sentAt });
  }

  private async ackOne(m: BusAck, id: string, now: number): Promise<void> {
    const d =
      this.recent.get(id) ??
      (await this.s.messages.findOne({ _id: id }, { projection: { from: 1, to: 1, sentAt: 1 } }));
    if (d) {
      if (d.to !== m.user) return this.replyError(m, 'not_yours', id);
      this.recent.delete(id);
      const { deletedCount } = await this.s.messages.deleteOne({ _id: id });
      if (deletedCount === 0) return; // acked at the same moment through another engine
      this.metrics.acked.inc();
      this.metrics.deliveryLatency.observe(Math.max(0, now - d.sentAt.getTime()) / 1000);
      return this.receipt(id, d.from, m.user, now);
    }
    // Not a message: maybe a contact event (the api's `events` collection).
    const e = await this.s.events.findOne({ _id: id }, { projection: { to: 1 } });
    if (e) {
      if (e.to !== m.user) return this.replyError(m, 'not_yours', id);
      await this.s.events.deleteOne({ _id: id });
    }
    // Otherwise it was acked before (or expired): acks are idempotent, nothing to say.
  }

  /** Tells the sender its message was acked: now if online, else on its next connect. */
  private async receipt(id: string, sender: string, recipient: string, at: number): Promise<void> {
    const gws = await this.presence(sender);
    for (const gw of gws) {
      await this.toGateway(gw, {
        op: 'push',
        to: sender,
        frame: { type: 'delivered', id, to: recipient, at },
      });
    }
    if (gws.length > 0) return;
    try {
      await this.s.receipts.insertOne({ _id: id, to: sender, from: recipient, at: new Date(at) });
      this.metrics.receiptsStored.inc();
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
  }

  private async onSignal(m: BusSignal): Promise<void> {
    const decision = await this.permission(m.from, m.to);
    if (decision !== 'ok') {
      this.metrics.signals.inc({ result: 'refused' });
      return this.replyError(m, decision === 'unknown' ? 'unknown_recipient' : decision);
    }
    const gws = await this.presence(m.to);
    if (gws.length === 0) {
      this.metrics.signals.inc({ result: 'offline' });
      return this.replyError(m, 'recipient_offline');
    }
    const frame: Extract<GatewayMessage, { op: 'push' }>['frame'] = {
      type: 'signal',
      from: m.from,
      signal: m.signal,
    };
    if (m.body !== undefined) frame.body = m.body;
    for (const gw of gws) await this.toGateway(gw, { op: 'push', to: m.to, frame });
    this.metrics.signals.inc({ result: 'relayed' });
  }

  // ------------------------------------------------------------------ periodic jobs

  /**
   * Re-sends messages delivered but not acked within the redelivery timeout. Each message
   * is claimed by moving its `dueAt` with a conditional `findOneAndUpdate`, so with several
   * engines exactly one re-sends it per period.
   */
  async scanRedeliveries(): Promise<void> {
    if (this.scanning || this.stopping || !this.link.up) return;
    this.scanning = true;
    try {
      const now = new Date();
      const due = await this.s.messages
        .find({ dueAt: { $lte: now } })
        .project<Pick<MessageDoc, '_id' | 'dueAt' | 'to'>>({ dueAt: 1, to: 1 })
        .sort({ dueAt: 1 })
        .limit(500)
        .toArray();
      const online = new Map<string, string[]>();
      for (const d of due) {
        if (this.stopping) break;
        const next = new Date(Date.now() + this.cfg.redeliverySeconds * 1000);
        const claimed = await this.s.messages.findOneAndUpdate(
          { _id: d._id, dueAt: d.dueAt },
          { $set: { dueAt: next } },
          { returnDocument: 'after' },
        );
        if (!claimed) continue; // another engine took it, or it was acked
        let gws = online.get(claimed.to);
        if (!gws) {
          try {
            gws = await lookupPresence(this.redis, this.cfg.redisPrefix, claimed.to);
          } catch (err) {
            // Unknown is not offline: parked, it would wait for a connect that a recipient
            // connected all along never makes. Redis is down: stop here; the claim moved
            // this one's `dueAt`, and the next scans try again.
            this.log.warn({ err }, 'presence lookup failed; redelivery scan paused');
            break;
          }
          online.set(claimed.to, gws);
        }
        if (gws.length === 0) {
          // Offline: park it until the recipient connects (replay).
          await this.s.messages.updateOne({ _id: d._id, dueAt: next }, { $set: { dueAt: null } });
          continue;
        }
        await this.s.messages.updateOne(
          { _id: d._id },
          { $set: { deliveredAt: new Date() }, $inc: { attempts: 1 } },
        );
        const frame = this.deliverFrame(claimed);
        for (const gw of gws) {
          await this.toGateway(gw, { op: 'push', to: claimed.to, frame });
        }
        this.metrics.redelivered.inc();
        this.metrics.delivered.inc();
      }
    } finally {
      this.scanning = false;
    }
  }

  /**
   * Deletes messages, contact events and receipts older than their retention periods and
   * counts each kind. Returns the number of messages (what callers have always been told).
   */
  async sweepExpired(): Promise<number> {
    const before = (seconds: number): Date => new Date(Date.now() - seconds * 1000);
    const res = await this.s.messages.deleteMany({
      sentAt: { $lt: before(this.cfg.retentionSeconds) },
    });
    if (res.deletedCount > 0) {
      this.metrics.expired.inc(res.deletedCount);
      this.log.info({ expired: res.deletedCount }, 'expired undelivered messages');
    }
    const events = await this.s.events.deleteMany({
      at: { $lt: before(this.cfg.eventRetentionSeconds) },
    });
    if (events.deletedCount > 0) {
      this.metrics.eventsExpired.inc(events.deletedCount);
      this.log.info({ expired: events.deletedCount }, 'expired unacked contact events');
    }
    const receipts = await this.s.receipts.deleteMany({
      at: { $lt: before(this.cfg.receiptRetentionSeconds) },
    });
    if (receipts.deletedCount > 0) {
      this.metrics.receiptsExpired.inc(receipts.deletedCount);
      this.log.info({ expired: receipts.deletedCount }, 'expired unfetched receipts');
    }
    return res.deletedCount;
  }

  private async refreshStats(): Promise<void> {
    const pending = await this.s.messages.countDocuments({});
    this.metrics.pending.set(pending);
    const oldest = await this.s.messages.findOne(
      {},
      { sort: { sentAt: 1 }, projection: { sentAt: 1 } },
    );
    this.metrics.oldestPendingAge.set(
      oldest ? Math.max(0, (Date.now() - oldest.sentAt.getTime()) / 1000) : 0,
    );
  }

  // ------------------------------------------------------------------ shutdown

  /** Stops consuming, lets in-flight messages finish (and be acked), then closes. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const ch = this.link.channel;
    if (ch && this.consumerTag) await ch.cancel(this.consumerTag).catch(() => undefined);
    while (this.inflight.size > 0 || this.scanning) {
      await Promise.allSettled([...this.inflight]);
      if (this.scanning) await new Promise((r) => setTimeout(r, 50));
    }
    await this.link.stop();
    this.redis.disconnect();
    await this.mongo.close();
    await this.ops.stop();
  }
}
