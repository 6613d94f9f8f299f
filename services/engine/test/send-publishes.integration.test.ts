/**
 * What a send publishes (issue 18 §3): when the recipient is on the sender's gateway, one
 * `push` that carries the `stored` (the gateway answers `accepted` before it pushes the
 * frame); when the recipient is elsewhere, a `stored` to the sender's gateway and a `push`
 * to the recipient's; when the recipient is offline, the `stored` alone (the message waits
 * in the store). Also: sends of one pair arriving together share one permission read, and
 * a kept presence answer is dropped when the recipient's `connected` comes. A real engine
 * (in this process) against the test environment's RabbitMQ, FerretDB and Redis; the test
 * plays the gateways.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import amqp from 'amqplib';
import {
  deliveryExchange,
  gatewayQueue,
  gatewayRoutingKey,
  parseGatewayMessage,
  presenceKey,
  type BusSend,
  type GatewayMessage,
} from '@gossip/protocol';
import { insertAcceptedContacts, testEnv, uniqueName } from '@gossip/testenv';
import {
  dropDatabaseAndClose,
  startEngineUnderTest,
  type EngineUnderTest,
} from './engine-under-test.js';

const GW = 'gw-sendpub-a';
const GW_B = 'gw-sendpub-b';

describe('engine sends: publishes per message', () => {
  const env = testEnv();
  const prefix = uniqueName('sendpub').replace(/-/g, '_');
  const mongo = new MongoClient(env.mongoUrl);
  const redis = new Redis(env.redisUrl, { lazyConnect: true });
  let a: EngineUnderTest;
  let amqpConn: amqp.ChannelModel | undefined;
  /** Every message the engine sent to each test gateway, in arrival order. */
  const got: Record<string, GatewayMessage[]> = { [GW]: [], [GW_B]: [] };
  const invalid: string[] = [];

  before(async () => {
    await mongo.connect();
    await redis.connect();
    const record =
      (gw: string) =>
      (parsed: Parameters<Parameters<typeof startEngineUnderTest>[0]['onMessage']>[0]) => {
        if (!parsed.ok) invalid.push(`${parsed.reason}: ${String(parsed.detail)}`);
        else got[gw]!.push(parsed.message);
      };
    // No periodic job reads the store during the tests: the only finds are the sends'.
    // A presence answer is kept for ten minutes: the move test below sees the kept one.
    const quiet = {
      ENGINE_SCAN_INTERVAL_MS: '600000',
      ENGINE_SWEEP_INTERVAL_SECONDS: '600',
      ENGINE_STATS_INTERVAL_MS: '600000',
      ENGINE_PRESENCE_CACHE_MS: '600000',
    };
    a = await startEngineUnderTest({ prefix, gw: GW, onMessage: record(GW), env: quiet });
    // A second test gateway's queue on the same exchange, without a second engine (which
    // would take some of the sends from the engine queue, with caches of its own).
    amqpConn = await amqp.connect(env.amqpUrl);
    const ch = await amqpConn.createChannel();
    const q = gatewayQueue(prefix, GW_B);
    await ch.assertQueue(q, { durable: false, autoDelete: true });
    await ch.bindQueue(q, deliveryExchange(prefix), gatewayRoutingKey(GW_B));
    const onB = record(GW_B);
    await ch.consume(q, (msg) => msg && onB(parseGatewayMessage(msg.content)), { noAck: true });
  });

  after(async () => {
    await amqpConn?.close().catch(() => undefined);
    await a?.close();
    await dropDatabaseAndClose(mongo, prefix);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  let n = 0;
  const user = (): string => `u${Date.now().toString(36)}${n++}`.slice(0, 32);

  const contacts = (x: string, y: string): Promise<void> =>
    insertAcceptedContacts(mongo.db(prefix), x, y);
  const online = async (name: string, gw: string): Promise<void> => {
    await redis.hset(`${prefix}:${presenceKey(name)}`, gw, String(Date.now() + 60_000));
  };
  const send = (from: string, to: string, conn: string): BusSend => ({
    op: 'send',
    id: randomUUID(),
    from,
    to,
    kind: 'message',
    body: 'Y2lwaGVydGV4dA',
    at: Date.now(),
    gw: GW,
    conn,
  });
  /** The messages about `id` each gateway got, once `count` have arrived in all. */
  const about = async (id: string, count: number) => {
    const pick = (gw: string) =>
      got[gw]!.filter(
        (m) =>
          (m.op === 'stored' && m.id === id) ||
          (m.op === 'push' && m.frame.type === 'deliver' && m.frame.id === id),
      );
    const deadline = Date.now() + 60_000;
    while (pick(GW).length + pick(GW_B).length < count && Date.now() < deadline) {
      await sleep(20);
    }
    // A little longer: a publish more than expected would arrive now.
    await sleep(300);
    return { a: pick(GW), b: pick(GW_B) };
  };

  test('recipient on the sender gateway: one push carrying the stored', async () => {
    const [s, r] = [user(), user()];
    await contacts(s, r);
    await online(r, GW);
    const m = send(s, r, 'conn-1');
    a.publish(m);
    const { a: onA, b: onB } = await about(m.id, 1);
    assert.deepEqual(onB, []);
    assert.equal(onA.length, 1, JSON.stringify(onA));
    const push = onA[0]!;
    assert.equal(push.op, 'push');
    if (push.op !== 'push') return;
    assert.deepEqual(push.stored, { conn: 'conn-1', id: m.id });
    assert.equal(push.to, r);
    assert.equal(push.live, true);
    assert.equal(push.frame.type, 'deliver');
    assert.deepEqual(invalid, []);
  });

  test('recipient on another gateway: a stored to the sender, a plain push to the recipient', async () => {
    const [s, r] = [user(), user()];
    await contacts(s, r);
    await online(r, GW_B);
    const m = send(s, r, 'conn-2');
    a.publish(m);
    const { a: onA, b: onB } = await about(m.id, 2);
    assert.deepEqual(onA, [{ op: 'stored', conn: 'conn-2', id: m.id }]);
    assert.equal(onB.length, 1);
    const push = onB[0]!;
    assert.equal(push.op, 'push');
    if (push.op !== 'push') return;
    assert.equal(push.stored, undefined);
    assert.equal(push.frame.type, 'deliver');
    assert.deepEqual(invalid, []);
  });

  test('recipient offline: the stored alone, and the message stays stored', async () => {
    const [s, r] = [user(), user()];
    await contacts(s, r);
    const m = send(s, r, 'conn-3');
    a.publish(m);
    const { a: onA, b: onB } = await about(m.id, 1);
    assert.deepEqual(onA, [{ op: 'stored', conn: 'conn-3', id: m.id }]);
    assert.deepEqual(onB, []);
    const doc = await mongo
      .db(prefix)
      .collection('messages')
      .findOne({ _id: m.id as never });
    assert.equal(doc?.to, r);
  });

  test('a burst of one pair reads its permission once', async () => {
    const [s, r] = [user(), user()];
    await contacts(s, r);
    await online(r, GW);
    const finds = async (): Promise<number> =>
      (await a.engine.metrics.storeCommands.get()).values.find((v) => v.labels.command === 'find')
        ?.value ?? 0;
    const findsBefore = await finds();
    const burst = Array.from({ length: 20 }, (_, i) => send(s, r, `conn-b${i}`));
    for (const m of burst) a.publish(m);
    for (const m of burst) await about(m.id, 1);
    // The pair's two contact documents, read with one `find` once for the 20 sends (one
    // read per send that arrived before the first read answered would be up to 20).
    assert.equal((await finds()) - findsBefore, 1);
    for (const m of burst) {
      const mine = got[GW]!.filter(
        (x) => x.op === 'push' && x.frame.type === 'deliver' && x.frame.id === m.id,
      );
      assert.equal(mine.length, 1);
    }
  });

  test('a recipient kept online at one gateway: a connected elsewhere makes the next push read presence anew', async () => {
    const [s, r] = [user(), user()];
    await contacts(s, r);
    await online(r, GW);
    const pushes = (gw: string, id: string) =>
      got[gw]!.filter(
        (x) => x.op === 'push' && x.frame.type === 'deliver' && x.frame.id === id && !x.conn,
      ).length;
    const m1 = send(s, r, 'conn-m1');
    a.publish(m1);
    await about(m1.id, 1);
    assert.equal(pushes(GW, m1.id), 1);
    // r leaves GW for GW_B; the engine is not told, and its kept answer still says GW: the
    // push goes there (and would be dropped). The message is stored all the same.
    await redis.hdel(`${prefix}:${presenceKey(r)}`, GW);
    await online(r, GW_B);
    const m2 = send(s, r, 'conn-m2');
    a.publish(m2);
    await about(m2.id, 1);
    assert.equal(pushes(GW, m2.id), 1);
    assert.equal(pushes(GW_B, m2.id), 0);
    // GW_B announces r's connection: the replay sends both stored messages to it, and the
    // next send reads presence anew and pushes live to GW_B alone.
    a.publish({ op: 'connected', user: r, gw: GW_B, conn: 'conn-r-b' });
    const replayed = async (id: string) => {
      const deadline = Date.now() + 60_000;
      const has = () =>
        got[GW_B]!.some(
          (x) =>
            x.op === 'push' &&
            x.conn === 'conn-r-b' &&
            x.frame.type === 'deliver' &&
            x.frame.id === id,
        );
      while (!has() && Date.now() < deadline) await sleep(20);
      return has();
    };
    assert.ok(await replayed(m1.id), 'm1 replayed to GW_B');
    assert.ok(await replayed(m2.id), 'm2 replayed to GW_B');
    const m3 = send(s, r, 'conn-m3');
    a.publish(m3);
    await about(m3.id, 2);
    assert.equal(pushes(GW_B, m3.id), 1);
    assert.equal(pushes(GW, m3.id), 0);
    assert.deepEqual(invalid, []);
  });
});
