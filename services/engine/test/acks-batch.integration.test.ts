/**
 * Acks grouped across frames, and their receipts grouped per gateway (issue 18 §3): ack
 * frames that arrive while a batch is in the store share the next read and delete; the
 * receipts of a batch go to a gateway whose presence claim carries `PRESENCE_PUSHES_MARK`
 * as one `pushes` message, and to a gateway without the mark (one older than `pushes`,
 * which would drop it) as one `push` per receipt. A crash of the engine after the batch's
 * work started and before its bus messages are acked redelivers them, and the receipt
 * still comes. Real engines in this process against the test environment's RabbitMQ,
 * FerretDB and Redis; the test plays the gateways (it publishes `ack` and reads the
 * gateway queues), and puts a TCP relay of its own between one engine and Redis and
 * RabbitMQ to hold that engine's presence read and to cut its broker connection.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import amqp from 'amqplib';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import {
  deliveryExchange,
  ENGINE_ROUTING_KEY,
  PRESENCE_PUSHES_MARK,
  presenceKey,
  type BusAck,
  type BusPush,
  type BusPushes,
} from '@gossip/protocol';
import { sharedCollections, type SharedCollections } from '@gossip/store';
import { testEnv, uniqueName } from '@gossip/testenv';
import {
  deliveredMessages,
  dropDatabaseAndClose,
  startEngineUnderTest,
  type EngineUnderTest,
} from './engine-under-test.js';

/** A gateway whose claims carry the mark (it takes `pushes`). */
const GW_NEW = 'gw-acks-batch-new';
/** A gateway whose claims do not (an older gateway). */
const GW_OLD = 'gw-acks-batch-old';

/**
 * A TCP relay to a real server: `hold()` keeps what the client sends (counted, forwarded on
 * `release()`), `cut()` closes every connection and refuses new ones until `open()`.
 */
class Relay {
  private readonly server: Server;
  private readonly pairs = new Set<[Socket, Socket]>();
  private held: { to: Socket; chunk: Buffer }[] = [];
  private holding = false;
  private refusing = false;
  port = 0;

  constructor(private readonly target: URL) {
    this.server = createServer((client) => {
      if (this.refusing) return void client.destroy();
      const upstream = connect(Number(target.port), target.hostname);
      const pair: [Socket, Socket] = [client, upstream];
      this.pairs.add(pair);
      const end = (): void => {
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      upstream.on('data', (chunk) => client.write(chunk));
      client.on('data', (chunk) => {
        if (this.holding) this.held.push({ to: upstream, chunk });
        else upstream.write(chunk);
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((ok) => this.server.listen(0, '127.0.0.1', ok));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** The target's URL with this relay's address. */
  url(): string {
    const u = new URL(this.target.href);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.href;
  }

  hold(): void {
    this.holding = true;
  }

  /** What the clients sent since `hold()`, as text. */
  heldText(): string {
    return Buffer.concat(this.held.map((h) => h.chunk)).toString('latin1');
  }

  release(): void {
    this.holding = false;
    for (const h of this.held) if (!h.to.destroyed) h.to.write(h.chunk);
    this.held = [];
  }

  cut(): void {
    this.refusing = true;
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
  }

  open(): void {
    this.refusing = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((ok) => this.server.close(ok));
  }
}

describe('engine acks grouped across frames, receipts grouped per gateway', () => {
  const env = testEnv();
  const mongo = new MongoClient(env.mongoUrl);
  const redis = new Redis(env.redisUrl, { lazyConnect: true });
  const prefixes: string[] = [];
  const engines: EngineUnderTest[] = [];
  /** What the engines sent to the test gateways, per gateway. */
  const got = new Map<string, (BusPush | BusPushes)[]>();
  const invalid: string[] = [];

  /** Starts an engine in AMQP prefix/database `prefix` that reads the gateway queue `gw`. */
  const engine = async (
    prefix: string,
    gw: string,
    envVars: Record<string, string> = {},
  ): Promise<EngineUnderTest> => {
    const e = await startEngineUnderTest({
      prefix,
      gw,
      env: envVars,
      onMessage: (parsed) => {
        if (!parsed.ok) return void invalid.push(`${parsed.reason}: ${parsed.detail}`);
        const m = parsed.message;
        if (m.op !== 'push' && m.op !== 'pushes') return;
        const list = got.get(gw) ?? [];
        list.push(m);
        got.set(gw, list);
      },
    });
    engines.push(e);
    return e;
  };

  before(async () => {
    await mongo.connect();
    await redis.connect();
  });

  after(async () => {
    for (const e of engines) await e.close();
    for (const p of prefixes) {
      await mongo
        .db(p)
        .dropDatabase()
        .catch(() => undefined);
      const keys = await redis.keys(`${p}:*`);
      if (keys.length > 0) await redis.del(...keys);
    }
    await dropDatabaseAndClose(mongo, 'unused-acks-batch');
    redis.disconnect();
  });

  const newPrefix = (): string => {
    const p = uniqueName('ackbatch').replace(/-/g, '_');
    prefixes.push(p);
    return p;
  };

  let n = 0;
  const user = (): string => `u${Date.now().toString(36)}${n++}`.slice(0, 32);

  /** A gateway's claim of `name` for a minute, with the mark or without (an old gateway). */
  const online = async (prefix: string, name: string, gw: string): Promise<void> => {
    const until = String(Date.now() + 60_000);
    const value = gw === GW_NEW ? until + PRESENCE_PUSHES_MARK : until;
    await redis.hset(`${prefix}:${presenceKey(name)}`, gw, value);
  };

  const ack = (u: string, ids: string[]): BusAck => ({
    op: 'ack',
    user: u,
    ids,
    gw: GW_NEW,
    conn: randomUUID(),
  });

  /** The `delivered` ids for `sender` that reached gateway `gw`, and through which op. */
  const receipts = (gw: string, sender: string): { push: string[]; pushes: string[] } => {
    const out = { push: [] as string[], pushes: [] as string[] };
    for (const m of got.get(gw) ?? []) {
      const items = m.op === 'push' ? [m] : m.pushes;
      for (const p of items) {
        if (p.to === sender && p.frame.type === 'delivered') out[m.op].push(p.frame.id);
      }
    }
    return out;
  };

  const storeCommands = async (e: EngineUnderTest, command: string): Promise<number> => {
    const { values } = await e.engine.metrics.storeCommands.get();
    return values.find((v) => v.labels.command === command)?.value ?? 0;
  };

  /** Polls `check` (bounded wait, not a timing assertion) until it holds. */
  const until = async (what: string, check: () => Promise<boolean>): Promise<void> => {
    const deadline = Date.now() + 60_000;
    while (!(await check())) {
      if (Date.now() > deadline) assert.fail(`not within 60 s: ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  /** Publishes `frames` to the engine queue of `prefix` (one channel, in order, confirmed). */
  const publishAll = async (prefix: string, frames: BusAck[]): Promise<void> => {
    const conn = await amqp.connect(env.amqpUrl);
    try {
      const ch = await conn.createConfirmChannel();
      for (const f of frames) {
        ch.publish(deliveryExchange(prefix), ENGINE_ROUTING_KEY, Buffer.from(JSON.stringify(f)), {
          persistent: true,
        });
      }
      await ch.waitForConfirms();
    } finally {
      await conn.close();
    }
  };

  test('40 one-id frames queued together: a few reads and deletes, one pushes per batch to the new gateway, 20 pushes to the old one', async () => {
    const prefix = newPrefix();
    const c: SharedCollections = sharedCollections(mongo.db(prefix));
    // Started and stopped once, so the engine queue exists and holds the frames until the
    // next engine takes them all in one burst (up to its prefetch).
    // The second one also reads the old gateway's queue (the engine itself stopped).
    const first = await engine(prefix, GW_NEW);
    await first.engine.stop();
    const reader = await engine(prefix, GW_OLD);
    await reader.engine.stop();
    const [bob, alice, carol] = [user(), user(), user()];
    await online(prefix, alice, GW_NEW);
    await online(prefix, carol, GW_OLD);
    const fromAlice = deliveredMessages(alice, bob, 20);
    const fromCarol = deliveredMessages(carol, bob, 20);
    await c.messages.insertMany([...fromAlice, ...fromCarol]);
    const all = [...fromAlice, ...fromCarol];
    // Interleaved, as two conversations' acks arrive.
    const frames = fromAlice.flatMap((d, i) => [ack(bob, [d._id]), ack(bob, [fromCarol[i]!._id])]);
    await publishAll(prefix, frames);

    const e = await engine(prefix, GW_NEW, { ENGINE_PREFETCH: '64' });
    await until('every message deleted and receipted', async () => {
      const left = await c.messages.countDocuments({ to: bob });
      return (
        left === 0 &&
        new Set(receipts(GW_NEW, alice).pushes).size === 20 &&
        new Set(receipts(GW_OLD, carol).push).size === 20
      );
    });
    await new Promise((r) => setTimeout(r, 500)); // anything sent twice arrives

    const deletes = await storeCommands(e, 'delete');
    const finds = await storeCommands(e, 'find');
    const { values } = await e.engine.metrics.ackBatch.get();
    const framesSeen = values.find((v) => v.metricName === 'gossip_engine_ack_batch_frames_sum');
    const batches = values.find((v) => v.metricName === 'gossip_engine_ack_batch_frames_count');
    assert.equal(framesSeen?.value, 40, 'every frame went through a batch');
    // One delete per frame before grouping: 40. The first frame goes alone (nothing waits
    // while the store is idle); the others were queued meanwhile.
    assert.ok(deletes < 20, `40 frames took ${deletes} deletes`);
    // Also one read per frame before (none remembered): 40. The count includes the
    // engine's own periodic reads (stats, the redelivery scan), a few at most.
    assert.ok(finds < 20, `40 frames took ${finds} reads`);
    assert.equal(batches?.value, deletes, 'one delete per batch');
    // Receipts: alice's all in `pushes` (none as single pushes), at most one per batch;
    // carol's, on the old gateway, one `push` each and never a `pushes` it would drop.
    assert.deepEqual(receipts(GW_NEW, alice).pushes.sort(), fromAlice.map((d) => d._id).sort());
    assert.deepEqual(receipts(GW_NEW, alice).push, []);
    const pushesMsgs = (got.get(GW_NEW) ?? []).filter((m) => m.op === 'pushes').length;
    assert.ok(pushesMsgs <= deletes, `${pushesMsgs} pushes messages for ${deletes} batches`);
    assert.deepEqual(receipts(GW_OLD, carol).push.sort(), fromCarol.map((d) => d._id).sort());
    assert.equal((got.get(GW_OLD) ?? []).filter((m) => m.op === 'pushes').length, 0);
    assert.equal(await c.receipts.countDocuments({}), 0, 'both senders online: none stored');
    const { values: acked } = await e.engine.metrics.acked.get();
    assert.equal(acked[0]?.value, all.length);
    assert.deepEqual(invalid, []);
  });

  test('an engine cut off from RabbitMQ after its batch started: the frame is redelivered, the message deleted and receipted', async () => {
    const prefix = newPrefix();
    const c: SharedCollections = sharedCollections(mongo.db(prefix));
    const redisRelay = new Relay(new URL(env.redisUrl));
    const amqpRelay = new Relay(new URL(env.amqpUrl));
    await redisRelay.start();
    await amqpRelay.start();
    try {
      const a = await engine(prefix, GW_NEW, {
        ENGINE_REDIS_URL: redisRelay.url(),
        ENGINE_AMQP_URL: amqpRelay.url(),
      });
      const [bob, alice] = [user(), user()];
      await online(prefix, alice, GW_NEW);
      const [m] = deliveredMessages(alice, bob, 1);
      await c.messages.insertOne(m!);
      // Engine a's presence read of alice is held: its batch stops there.
      redisRelay.hold();
      a.publish(ack(bob, [m!._id]));
      await until('engine a asked Redis for alice', async () =>
        redisRelay.heldText().includes(presenceKey(alice)),
      );
      // The crash: a's broker connection goes, with the frame unacked.
      amqpRelay.cut();
      const b = await engine(prefix, GW_NEW);
      await until('the message deleted and its receipt sent', async () => {
        const left = await c.messages.countDocuments({ _id: m!._id });
        const r = receipts(GW_NEW, alice);
        return left === 0 && [...r.push, ...r.pushes].includes(m!._id);
      });
      assert.ok((await storeCommands(b, 'delete')) >= 1, 'engine b deleted it');
      // Let engine a finish (a second receipt at most) so it can stop.
      redisRelay.release();
      amqpRelay.open();
      assert.deepEqual(invalid, []);
    } finally {
      redisRelay.release();
      amqpRelay.open();
      for (const e of engines.splice(0)) await e.close();
      await redisRelay.close();
      await amqpRelay.close();
    }
  });
});
