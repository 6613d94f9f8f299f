/**
 * Acks, batched: one `ack` frame's ids are read with one query and deleted with one, and
 * every guarantee of the one-at-a-time acks holds: only the recipient's own messages and
 * contact events go (anything else gets `not_yours` and stays), unknown ids are ignored,
 * each deleted message's sender gets a receipt (pushed when online, stored when not), and
 * `acked` and the delivery-latency histogram count each deleted message once, also when
 * overlapping frames of the same ids go through two engines at once. Two real engines (in
 * this process) against the test environment's RabbitMQ, FerretDB and Redis; the test plays
 * the gateway: it publishes `ack` and reads the gateway queues.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { presenceKey, type BusAck, type BusError, type BusPush } from '@gossip/protocol';
import { sharedCollections, type EventDoc, type SharedCollections } from '@gossip/store';
import { testEnv, uniqueName } from '@gossip/testenv';
import {
  deliveredMessages,
  dropDatabaseAndClose,
  startEngineUnderTest,
  type EngineUnderTest,
} from './engine-under-test.js';

const GW = 'gw-acks-test-a';
const GW_B = 'gw-acks-test-b';

describe('engine acks, one read and one delete per frame', () => {
  const env = testEnv();
  const prefix = uniqueName('acks').replace(/-/g, '_');
  const mongo = new MongoClient(env.mongoUrl);
  const redis = new Redis(env.redisUrl, { lazyConnect: true });
  let c: SharedCollections;
  let a: EngineUnderTest;
  let b: EngineUnderTest;
  /** Every `push` either engine sent to either test gateway, in arrival order. */
  const pushes: BusPush[] = [];
  /** Every `error` either engine sent. */
  const errors: BusError[] = [];
  /** Gateway messages that failed the protocol's schema (none expected). */
  const invalid: string[] = [];

  const onMessage = (
    parsed: Parameters<Parameters<typeof startEngineUnderTest>[0]['onMessage']>[0],
  ) => {
    if (!parsed.ok) invalid.push(`${parsed.reason}: ${String(parsed.detail)}`);
    else if (parsed.message.op === 'push') pushes.push(parsed.message);
    else if (parsed.message.op === 'error') errors.push(parsed.message);
  };

  before(async () => {
    await mongo.connect();
    await redis.connect();
    c = sharedCollections(mongo.db(prefix));
    a = await startEngineUnderTest({ prefix, gw: GW, onMessage });
    b = await startEngineUnderTest({ prefix, gw: GW_B, onMessage });
  });

  after(async () => {
    await a?.close();
    await b?.close();
    await dropDatabaseAndClose(mongo, prefix);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  let n = 0;
  const user = (): string => `u${Date.now().toString(36)}${n++}`.slice(0, 32);

  /** Marks `name` online on the test gateway GW for a minute (as a gateway's claim does). */
  const online = async (name: string): Promise<void> => {
    await redis.hset(`${prefix}:${presenceKey(name)}`, GW, String(Date.now() + 60_000));
  };

  const event = (to: string): EventDoc => ({
    _id: randomUUID(),
    to,
    from: 'alice',
    event: 'request',
    at: new Date(),
  });

  const ack = (u: string, ids: string[], conn = randomUUID()): BusAck => ({
    op: 'ack',
    user: u,
    ids,
    gw: GW,
    conn,
  });

  /** Both engines' value of a counter or a histogram's count. */
  const metric = async (
    pick: (e: EngineUnderTest) => {
      get(): Promise<{ values: { value: number; metricName?: string }[] }>;
    },
    name?: string,
  ): Promise<number> => {
    let sum = 0;
    for (const e of [a, b]) {
      const { values } = await pick(e).get();
      for (const v of values) if (name === undefined || v.metricName === name) sum += v.value;
    }
    return sum;
  };
  const acked = () => metric((e) => e.engine.metrics.acked);
  const latencies = () =>
    metric((e) => e.engine.metrics.deliveryLatency, 'gossip_engine_delivery_latency_seconds_count');

  /** Polls `check` (bounded wait, not a timing assertion) until it holds. */
  const until = async (what: string, check: () => Promise<boolean>): Promise<void> => {
    const deadline = Date.now() + 60_000;
    while (!(await check())) {
      if (Date.now() > deadline) assert.fail(`not within 60 s: ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const receiptsPushed = (to: string): string[] =>
    pushes.flatMap((p) => (p.to === to && p.frame.type === 'delivered' ? [p.frame.id] : []));
  const errorsTo = (conn: string): BusError[] => errors.filter((e) => e.conn === conn);

  test('a frame deletes only its user’s messages and events, with one receipt each', async () => {
    const [bob, alice, carol, dave] = [user(), user(), user(), user()];
    await online(alice);
    const fromAlice = deliveredMessages(alice, bob, 3);
    const fromCarol = deliveredMessages(carol, bob, 1); // carol is offline: her receipt is stored
    const toDave = deliveredMessages(alice, dave, 1);
    const bobsEvent = event(bob);
    const davesEvent = event(dave);
    await c.messages.insertMany([...fromAlice, ...fromCarol, ...toDave]);
    await c.events.insertMany([bobsEvent, davesEvent]);
    const acked0 = await acked();
    const latencies0 = await latencies();
    const conn = randomUUID();
    const ids = [...fromAlice, ...fromCarol, ...toDave].map((d) => d._id);
    // Someone else's message and event, an unknown id and a repeated one in the same frame.
    a.publish(
      ack(bob, [...ids, bobsEvent._id, davesEvent._id, randomUUID(), fromAlice[0]!._id], conn),
    );

    await until('the frame is done', async () => {
      const left = await c.messages.countDocuments({ to: bob });
      const events = await c.events.countDocuments({ to: bob });
      return left === 0 && events === 0 && errorsTo(conn).length === 2;
    });
    // Let anything sent twice arrive before counting.
    await new Promise((r) => setTimeout(r, 500));

    assert.deepEqual(
      errorsTo(conn)
        .map((e) => [e.code, e.ref])
        .sort(),
      [
        ['not_yours', davesEvent._id],
        ['not_yours', toDave[0]!._id],
      ].sort(),
    );
    assert.equal(await c.messages.countDocuments({ _id: toDave[0]!._id }), 1);
    assert.equal(await c.events.countDocuments({ _id: davesEvent._id }), 1);
    assert.deepEqual(receiptsPushed(alice).sort(), fromAlice.map((d) => d._id).sort());
    for (const p of pushes.filter((x) => x.to === alice)) {
      assert.equal(p.frame.type === 'delivered' && p.frame.to, bob);
    }
    const stored = await c.receipts.find({ to: carol }).toArray();
    assert.deepEqual(
      stored.map((r) => [r._id, r.from]),
      [[fromCarol[0]!._id, bob]],
    );
    assert.equal(receiptsPushed(carol).length, 0);
    assert.equal((await acked()) - acked0, 4);
    assert.equal((await latencies()) - latencies0, 4);
    assert.deepEqual(invalid, []);
  });

  test('overlapping frames of the same ids through two engines: each message once in the metrics, no receipt lost', async () => {
    const [bob, alice, carol] = [user(), user(), user()];
    await online(alice);
    const fromAlice = deliveredMessages(alice, bob, 20);
    const fromCarol = deliveredMessages(carol, bob, 20);
    await c.messages.insertMany([...fromAlice, ...fromCarol]);
    const acked0 = await acked();
    const latencies0 = await latencies();
    const ids = [...fromAlice, ...fromCarol].map((d) => d._id).sort();
    // Eight frames, each id in four or more of them, on the engines' shared queue
    // (RabbitMQ hands them to both consumers, each of which also handles several at once):
    // some deletes find part of their frame gone. A run in which no two of them met
    // still checks each message is counted once.
    const frames = [ids.slice(0, 25), ids.slice(15), ids.slice(0, 25), ids.slice(10, 40)];
    for (const frame of [...frames, ...frames.reverse()]) a.publish(ack(bob, frame));

    await until('every message is deleted and has its receipt', async () => {
      const left = await c.messages.countDocuments({ to: bob });
      const storedN = await c.receipts.countDocuments({ to: carol });
      return left === 0 && storedN === 20 && new Set(receiptsPushed(alice)).size === 20;
    });
    // A frame whose delete removed nothing may still be on its way: wait for the counters.
    await until('the metrics count 40', async () => (await acked()) - acked0 >= 40);
    await new Promise((r) => setTimeout(r, 500));

    assert.equal((await acked()) - acked0, 40);
    assert.equal((await latencies()) - latencies0, 40);
    assert.deepEqual(
      [...new Set(receiptsPushed(alice))].sort(),
      fromAlice.map((d) => d._id).sort(),
    );
    const stored = await c.receipts.find({ to: carol }).toArray();
    assert.deepEqual(stored.map((r) => r._id).sort(), fromCarol.map((d) => d._id).sort());
    assert.ok(stored.every((r) => r.from === bob));
    assert.deepEqual(invalid, []);
  });
});
