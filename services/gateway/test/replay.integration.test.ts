/**
 * What waits for an offline user besides messages: contact events and receipts expire
 * after their retention (counted, like messages), and the replay on connect reads them a
 * page at a time, never a user's whole backlog at once. Real engine, gateway, RabbitMQ,
 * FerretDB and Redis.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  COLLECTIONS,
  newMessageId,
  type ContactFrame,
  type DeliveredFrame,
  type EventDoc,
} from '@gossip/protocol';
import { eventually, metric } from './support/stack.js';
import { WsClient } from './support/wsclient.js';
import { stackPerTest } from './support/stacks.js';

interface ReceiptDoc {
  _id: string;
  to: string;
  from: string;
  at: Date;
}

describe('contact events and receipts', () => {
  const newStack = stackPerTest();

  it('expire after their retention and are counted; newer ones stay', async () => {
    const stack = await newStack('evexpire', { contacts: false });
    const events = stack.db.collection<EventDoc>(COLLECTIONS.events);
    const receipts = stack.db.collection<ReceiptDoc>('receipts');
    const old = new Date(Date.now() - 3600_000);
    const fresh = new Date();
    const event = (at: Date): EventDoc => ({
      _id: randomUUID(),
      to: 'bob',
      from: 'alice',
      event: 'request',
      at,
    });
    const receipt = (at: Date): ReceiptDoc => ({
      _id: newMessageId(),
      to: 'bob',
      from: 'alice',
      at,
    });
    await events.insertMany([event(old), event(old), event(old), event(fresh)]);
    await receipts.insertMany([receipt(old), receipt(old), receipt(fresh)]);
    const engine = await stack.startEngine({
      ENGINE_EVENT_RETENTION_SECONDS: '600',
      ENGINE_RECEIPT_RETENTION_SECONDS: '600',
      ENGINE_SWEEP_INTERVAL_SECONDS: '1',
    });
    await eventually(
      async () =>
        (await metric(engine.url, 'gossip_engine_contact_events_expired_total')) === 3 &&
        (await metric(engine.url, 'gossip_engine_receipts_expired_total')) === 2,
      'the expired counters',
    );
    assert.deepEqual(
      (await events.find({ to: 'bob' }).toArray()).map((e) => e.at.getTime()),
      [fresh.getTime()],
    );
    assert.deepEqual(
      (await receipts.find({ to: 'bob' }).toArray()).map((r) => r.at.getTime()),
      [fresh.getTime()],
    );
  });

  it('replay on connect pages through them: every one arrives, in order, one page at a time', async () => {
    const stack = await newStack('evpaged', { contacts: false });
    const base = Date.now() - 60_000;
    const eventDocs: EventDoc[] = Array.from({ length: 25 }, (_, i) => ({
      _id: randomUUID(),
      to: 'bob',
      from: 'alice',
      event: 'key-changed',
      keyVersion: i + 2,
      // Two events share each timestamp, so the (at, _id) cursor is exercised.
      at: new Date(base + Math.floor(i / 2) * 1000),
    }));
    const receiptDocs: ReceiptDoc[] = Array.from({ length: 25 }, (_, i) => ({
      _id: newMessageId(),
      to: 'bob',
      from: 'alice',
      at: new Date(base + i),
    }));
    await stack.db.collection<EventDoc>(COLLECTIONS.events).insertMany(eventDocs);
    await stack.db.collection<ReceiptDoc>('receipts').insertMany(receiptDocs);
    const engine = await stack.startEngine({ ENGINE_REPLAY_BATCH: '10' });
    const gw = await stack.startGateway();
    const bob = await WsClient.connect(gw.wsUrl, await stack.token('bob'));
    const contacts = () => bob.frames.filter((f): f is ContactFrame => f.type === 'contact');
    const delivered = () => bob.frames.filter((f): f is DeliveredFrame => f.type === 'delivered');
    await eventually(
      () => contacts().length === 25 && delivered().length === 25,
      'every event and receipt',
    );
    const inOrder = [...eventDocs].sort(
      (a, b) => a.at.getTime() - b.at.getTime() || (a._id < b._id ? -1 : 1),
    );
    assert.deepEqual(
      contacts().map((f) => f.id),
      inOrder.map((e) => e._id),
    );
    assert.deepEqual(new Set(delivered().map((f) => f.id)), new Set(receiptDocs.map((r) => r._id)));
    // 25 of each in pages of 10: three reads each (10, 10, 5), never one read of all.
    assert.equal(await metric(engine.url, 'gossip_engine_replay_pages_total', 'kind="events"'), 3);
    assert.equal(
      await metric(engine.url, 'gossip_engine_replay_pages_total', 'kind="receipts"'),
      3,
    );
    // Receipts are pushed once; events stay until acked.
    assert.equal(await stack.db.collection('receipts').countDocuments({ to: 'bob' }), 0);
    assert.equal(await stack.db.collection(COLLECTIONS.events).countDocuments({ to: 'bob' }), 25);
    await bob.close();
  });
});
