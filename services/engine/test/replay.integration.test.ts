/**
 * The replay on `connected` ends with `replayed`, pushed to that connection after every
 * frame of the backlog (contact events, messages, receipts), for an empty backlog, one
 * page and several pages; a replay that fails half way never says `replayed`. A real
 * engine (in this process) against the test environment's RabbitMQ and FerretDB; the
 * test plays the gateway: it publishes `connected` and reads its own gateway queue.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { MongoClient } from 'mongodb';
import type { BusConnected, BusPush } from '@gossip/protocol';
import {
  sharedCollections,
  type EventDoc,
  type MessageDoc,
  type ReceiptDoc,
  type SharedCollections,
} from '@gossip/store';
import { testEnv, uniqueName } from '@gossip/testenv';
import {
  dropDatabaseAndClose,
  startEngineUnderTest,
  type EngineUnderTest,
} from './engine-under-test.js';

const PAGE = 3;
const GW = 'gw-replay-test';

describe('engine replay on connected', () => {
  const env = testEnv();
  const prefix = uniqueName('replay').replace(/-/g, '_');
  const dbName = prefix;
  const mongo = new MongoClient(env.mongoUrl);
  let c: SharedCollections;
  let rig: EngineUnderTest;
  /** Frames pushed to each connection id, in arrival order. */
  const pushed = new Map<string, BusPush['frame'][]>();
  const waiters: Array<() => void> = [];
  /** Gateway messages that failed the protocol's schema (none expected). */
  const invalid: string[] = [];

  before(async () => {
    await mongo.connect();
    c = sharedCollections(mongo.db(dbName));
    rig = await startEngineUnderTest({
      prefix,
      gw: GW,
      env: { ENGINE_REPLAY_BATCH: String(PAGE), ENGINE_MAX_REDELIVERIES: '1' },
      onMessage: (parsed) => {
        if (!parsed.ok) {
          invalid.push(`${parsed.reason}: ${String(parsed.detail)}`);
          return;
        }
        const m = parsed.message;
        if (m.op === 'push' && m.conn !== undefined) {
          const list = pushed.get(m.conn) ?? [];
          list.push(m.frame);
          pushed.set(m.conn, list);
          for (const w of waiters.splice(0)) w();
        }
      },
    });
  });

  after(async () => {
    await rig?.close();
    await dropDatabaseAndClose(mongo, dbName);
  });

  /** Publishes `connected` for `user` on a fresh connection id; returns the id. */
  const connect = async (user: string, from?: number): Promise<string> => {
    const connId = randomUUID();
    const m: BusConnected = { op: 'connected', user, gw: GW, conn: connId };
    if (from !== undefined) m.from = from;
    rig.publish(m);
    return connId;
  };

  /** Waits (bounded, not a timing assertion) until `connId` got `replayed`. */
  const replayOf = async (connId: string): Promise<BusPush['frame'][]> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const frames = pushed.get(connId) ?? [];
      if (frames.some((f) => f.type === 'replayed')) {
        // Anything after `replayed` would show up in the assertions of the caller.
        await new Promise((r) => setTimeout(r, 200));
        return pushed.get(connId) ?? [];
      }
      if (Date.now() > deadline)
        assert.fail(`no replayed for ${connId}: ${JSON.stringify(frames)}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 500);
      });
    }
  };

  let n = 0;
  const user = (): string => `u${Date.now().toString(36)}${n++}`.slice(0, 32);

  /** Stores `events`, `messages` and `receipts` for `to`; returns the ids in replay order. */
  const seed = async (
    to: string,
    counts: { events: number; messages: number; receipts: number },
  ): Promise<string[]> => {
    const base = Date.now() - 60_000;
    const events: EventDoc[] = Array.from({ length: counts.events }, (_, i) => ({
      _id: randomUUID(),
      to,
      from: 'alice',
      event: 'request',
      at: new Date(base + i),
    }));
    const messages: MessageDoc[] = Array.from({ length: counts.messages }, (_, i) => ({
      _id: randomUUID(),
      from: 'alice',
      to,
      kind: 'message',
      body: 'Y2lwaGVydGV4dA',
      sentAt: new Date(base + i),
      seq: base + i,
      attempts: 0,
      deliveredAt: null,
      dueAt: null,
    }));
    // Receipts replay in `_id` order.
    const receiptIds = Array.from({ length: counts.receipts }, () => randomUUID()).sort();
    const receipts: ReceiptDoc[] = receiptIds.map((_id, i) => ({
      _id,
      to,
      from: 'carol',
      at: new Date(base + i),
    }));
    if (events.length) await c.events.insertMany(events);
    if (messages.length) await c.messages.insertMany(messages);
    if (receipts.length) await c.receipts.insertMany(receipts);
    return [...events, ...messages, ...receipts].map((d) => d._id);
  };

  const idsOf = (frames: BusPush['frame'][]): string[] =>
    frames.flatMap((f) => ('id' in f && typeof f.id === 'string' ? [f.id] : []));

  test('an empty backlog is just `replayed`', async () => {
    const frames = await replayOf(await connect(user()));
    assert.deepEqual(frames, [{ type: 'replayed' }]);
  });

  test('one page of each kind, then `replayed` last and once', async () => {
    const to = user();
    const ids = await seed(to, { events: 2, messages: 2, receipts: 1 });
    const frames = await replayOf(await connect(to));
    assert.deepEqual(
      frames.map((f) => f.type),
      ['contact', 'contact', 'deliver', 'deliver', 'delivered', 'replayed'],
    );
    assert.deepEqual(idsOf(frames), ids);
    assert.deepEqual(invalid, []);
  });

  test('several pages (and an exact multiple of the page size), then `replayed`', async () => {
    const to = user();
    const ids = await seed(to, { events: 7, messages: 8, receipts: 2 * PAGE });
    const frames = await replayOf(await connect(to));
    assert.equal(frames.length, ids.length + 1);
    assert.deepEqual(frames.at(-1), { type: 'replayed' });
    assert.equal(frames.filter((f) => f.type === 'replayed').length, 1);
    assert.deepEqual(idsOf(frames), ids);
  });

  test('a resumed connection (`from`) gets the messages from there on, events and receipts in full', async () => {
    const to = user();
    const ids = await seed(to, { events: 2, messages: 5, receipts: 1 });
    const stamps = (await c.messages.find({ to }).sort({ seq: 1 }).toArray()).map((d) => d.seq);
    const frames = await replayOf(await connect(to, stamps[2]));
    // ids: 2 events, 5 messages, 1 receipt; the first two messages are skipped.
    assert.deepEqual(idsOf(frames), [...ids.slice(0, 2), ...ids.slice(4)]);
    assert.deepEqual(frames.at(-1), { type: 'replayed' });
  });

  test('a replay that fails half way never says `replayed`', async () => {
    const to = user();
    const ids = await seed(to, { events: 1, messages: 2, receipts: 0 });
    // A message the engine cannot turn into a frame (no `sentAt`): the replay throws there,
    // is requeued once, then dropped (ENGINE_MAX_REDELIVERIES=1).
    await c.messages.insertOne({
      _id: randomUUID(),
      from: 'alice',
      to,
      kind: 'message',
      body: 'eA',
      seq: Date.now() + 1,
      attempts: 0,
      deliveredAt: null,
      dueAt: null,
    } as unknown as MessageDoc);
    const errorsBefore = await internalErrors();
    const connId = await connect(to);
    const deadline = Date.now() + 30_000;
    while ((await internalErrors()) < errorsBefore + 2) {
      assert.ok(Date.now() < deadline, 'the failing replay was not retried and dropped');
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 300));
    const frames = pushed.get(connId) ?? [];
    assert.ok(!frames.some((f) => f.type === 'replayed'), JSON.stringify(frames));
    // What was pushed before the failure (twice: the retry starts again from the top).
    assert.deepEqual(idsOf(frames), [...ids, ...ids]);
  });

  const internalErrors = async (): Promise<number> => {
    const m = await rig.engine.metrics.errors.get();
    return m.values.find((v) => v.labels.code === 'internal')?.value ?? 0;
  };
});
