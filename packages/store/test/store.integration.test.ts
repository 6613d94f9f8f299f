/**
 * The shared store against the test environment's FerretDB: every shared index is made
 * once under its one name whichever service comes first (and again: idempotent), the
 * replay pages keep their order across page boundaries, the send decision reads the
 * api's contact documents, and account deletion removes what a user sent or was to get.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { MongoClient, type Db } from 'mongodb';
import { contactDocId, type ContactDoc } from '@gossip/protocol';
import { testEnv, uniqueName } from '@gossip/testenv';
import {
  deletePendingOf,
  ensureSharedIndexes,
  eventsPage,
  messagesPage,
  receiptsPage,
  sendDecision,
  sharedCollections,
  SHARED_INDEXES,
  type EventDoc,
  type MessageDoc,
  type SharedCollections,
} from '../src/index.js';

describe('@gossip/store', () => {
  const mongo = new MongoClient(testEnv().mongoUrl);
  let db: Db;
  let c: SharedCollections;

  before(async () => {
    await mongo.connect();
    db = mongo.db(uniqueName('store').replace(/-/g, '_'));
    c = sharedCollections(db);
  });
  after(async () => {
    await db.dropDatabase().catch(() => undefined);
    await mongo.close();
  });

  test('ensureSharedIndexes makes each index under its one name, twice without error', async () => {
    await ensureSharedIndexes(c);
    await ensureSharedIndexes(c);
    for (const { coll, key, name } of SHARED_INDEXES) {
      const found = (await db.collection(coll).listIndexes().toArray()).find(
        (i) => i.name === name,
      );
      assert.ok(found, `${coll}.${name} exists`);
      assert.deepEqual(found.key, key);
    }
    // One definition per (collection, keys): no index twice under two names.
    const seen = new Set(SHARED_INDEXES.map((i) => `${i.coll} ${JSON.stringify(i.key)}`));
    assert.equal(seen.size, SHARED_INDEXES.length);
  });

  test('an index an earlier version made under its former name is accepted; another name is an error', async () => {
    const legacy = mongo.db(uniqueName('store_legacy').replace(/-/g, '_'));
    const other = mongo.db(uniqueName('store_other').replace(/-/g, '_'));
    try {
      // The api before @gossip/store let MongoDB name events {to, at}: to_1_at_1.
      await legacy.collection('events').createIndex({ to: 1, at: 1 });
      await ensureSharedIndexes(sharedCollections(legacy));
      const names = (await legacy.collection('events').listIndexes().toArray()).map((i) => i.name);
      assert.ok(names.includes('from_1') && names.includes('at'), names.join(' '));
      await other.collection('messages').createIndex({ dueAt: 1 }, { name: 'somebody_else' });
      await assert.rejects(
        ensureSharedIndexes(sharedCollections(other)),
        /messages has \{"dueAt":1\} indexed as 'somebody_else', not 'dueAt'/,
      );
    } finally {
      await legacy.dropDatabase().catch(() => undefined);
      await other.dropDatabase().catch(() => undefined);
    }
  });

  const msg = (to: string, seq: number, id = randomUUID()): MessageDoc => ({
    _id: id,
    from: 'alice',
    to,
    kind: 'message',
    body: 'eA',
    sentAt: new Date(seq),
    seq,
    attempts: 0,
    deliveredAt: null,
    dueAt: null,
  });

  test('messagesPage pages in (seq, _id) order, ties on seq included, only the recipient', async () => {
    const to = 'pager';
    // Two messages share each stamp: the cursor must not skip or repeat on a tie.
    const docs = Array.from({ length: 7 }, (_, i) => msg(to, 1000 + Math.floor(i / 2)));
    await c.messages.insertMany([...docs, msg('someone_else', 1000)]);
    const want = [...docs].sort((a, b) => a.seq - b.seq || (a._id < b._id ? -1 : 1));
    const got: string[] = [];
    let after: { seq: number; id: string } | undefined;
    for (;;) {
      const page = await messagesPage(c, to, after, 3);
      assert.ok(page.length <= 3);
      got.push(...page.map((d) => d._id));
      const last = page.at(-1);
      if (!last || page.length < 3) break;
      after = { seq: last.seq, id: last._id };
    }
    assert.deepEqual(
      got,
      want.map((d) => d._id),
    );
  });

  test('eventsPage pages in (at, _id) order; receiptsPage in _id order', async () => {
    const to = 'evpager';
    const base = Date.now();
    const events: EventDoc[] = Array.from({ length: 5 }, (_, i) => ({
      _id: randomUUID(),
      to,
      from: 'alice',
      event: 'request',
      at: new Date(base + Math.floor(i / 2)),
    }));
    await c.events.insertMany(events);
    const got: string[] = [];
    let after: { at: Date; id: string } | undefined;
    for (;;) {
      const page = await eventsPage(c, to, after, 2);
      got.push(...page.map((e) => e._id));
      const last = page.at(-1);
      if (!last || page.length < 2) break;
      after = { at: last.at, id: last._id };
    }
    const want = [...events].sort(
      (a, b) => a.at.getTime() - b.at.getTime() || (a._id < b._id ? -1 : 1),
    );
    assert.deepEqual(
      got,
      want.map((e) => e._id),
    );

    const ids = Array.from({ length: 3 }, () => randomUUID()).sort();
    await c.receipts.insertMany(ids.map((_id) => ({ _id, to, from: 'bob', at: new Date() })));
    const first = await receiptsPage(c, to, undefined, 2);
    const rest = await receiptsPage(c, to, first.at(-1)!._id, 2);
    assert.deepEqual(
      [...first, ...rest].map((r) => r._id),
      ids,
    );
  });

  test('sendDecision: contacts may, strangers may not, a missing account is unknown', async () => {
    const contact = (owner: string, peer: string, state: ContactDoc['state']): ContactDoc => ({
      _id: contactDocId(owner, peer),
      owner,
      peer,
      state,
      blocked: false,
      since: new Date(),
    });
    await c.users.insertMany([{ _id: 'ann' }, { _id: 'ben' }, { _id: 'cy' }]);
    await c.contacts.insertMany([
      contact('ann', 'ben', 'accepted'),
      contact('ben', 'ann', 'accepted'),
    ]);
    assert.equal(await sendDecision(c, 'ann', 'ben'), 'ok');
    assert.equal(await sendDecision(c, 'ann', 'cy'), 'not_contact');
    assert.equal(await sendDecision(c, 'ann', 'nobody'), 'unknown');
  });

  test('sendDecision reads both contact documents with one find, and the account only for not_contact', async () => {
    // A client of its own that reports every command it starts: the reads are counted.
    const counted = new MongoClient(testEnv().mongoUrl, { monitorCommands: true });
    const reads: string[] = [];
    counted.on('commandStarted', (e) => {
      if (e.commandName === 'find') reads.push(String((e.command as { find: unknown }).find));
    });
    await counted.connect();
    try {
      const cc = sharedCollections(counted.db(db.databaseName));
      const side = (
        owner: string,
        peer: string,
        state: ContactDoc['state'],
        blocked = false,
      ): ContactDoc => ({
        _id: contactDocId(owner, peer),
        owner,
        peer,
        state,
        blocked,
        since: new Date(),
      });
      await c.users.insertMany(['dee', 'eve', 'fay', 'gus', 'hal', 'ida'].map((_id) => ({ _id })));
      await c.contacts.insertMany([
        side('dee', 'eve', 'accepted'),
        side('eve', 'dee', 'accepted'),
        // fay blocked gus (both had been contacts).
        side('fay', 'gus', 'accepted', true),
        side('gus', 'fay', 'accepted'),
        // hal asked ida, ida has not answered.
        side('hal', 'ida', 'outgoing'),
        side('ida', 'hal', 'incoming'),
      ]);
      const cases: [string, string, string, number][] = [
        // from, to, decision, account reads
        ['dee', 'eve', 'ok', 0],
        ['eve', 'dee', 'ok', 0],
        ['fay', 'gus', 'blocked', 0],
        ['gus', 'fay', 'not_contact', 1],
        ['hal', 'ida', 'not_contact', 1],
        ['ida', 'hal', 'not_contact', 1],
        ['dee', 'fay', 'not_contact', 1],
        ['dee', 'nobody', 'unknown', 1],
      ];
      for (const [from, to, decision, accountReads] of cases) {
        reads.length = 0;
        assert.equal(await sendDecision(cc, from, to), decision, `${from} to ${to}`);
        const contactReads = accountReads === 0 ? ['contacts'] : ['contacts', 'users'];
        assert.deepEqual(reads, contactReads, `${from} to ${to}`);
      }
    } finally {
      await counted.close();
    }
  });

  test('deletePendingOf removes what a user sent or was to get, nothing else', async () => {
    const me = 'leaver';
    await c.messages.insertMany([msg(me, 1), { ...msg('stay', 2), from: me }, msg('stay', 3)]);
    await c.receipts.insertMany([
      { _id: randomUUID(), to: me, from: 'x', at: new Date() },
      { _id: randomUUID(), to: 'stay', from: 'x', at: new Date() },
    ]);
    await c.events.insertMany([
      { _id: randomUUID(), to: 'stay', from: me, event: 'request', at: new Date() },
      { _id: randomUUID(), to: 'stay', from: 'x', event: 'request', at: new Date() },
    ]);
    await deletePendingOf(c, me);
    const mine = { $or: [{ to: me }, { from: me }] };
    assert.equal(await c.messages.countDocuments(mine), 0);
    assert.equal(await c.receipts.countDocuments(mine), 0);
    assert.equal(await c.events.countDocuments(mine), 0);
    assert.equal(await c.messages.countDocuments({ to: 'stay', from: 'alice' }), 1);
    assert.equal(await c.receipts.countDocuments({ to: 'stay' }), 1);
    assert.equal(await c.events.countDocuments({ from: 'x' }), 1);
  });
});
