/**
 * The engine's side of attachments, on the test environment's RabbitMQ and FerretDB: a
 * send naming attachments is stored only when each is a finished upload of the sender
 * naming the recipient (else `invalid_attachment`, nothing stored); acks record who
 * fetched it and the last named recipient's ack deletes it with its GridFS files; the
 * sweep removes expired and unfinished uploads and GridFS leftovers, counted, and sets
 * the gauges. The test plays the gateway (publishes, reads its own queue) and the api
 * (writes attachment documents and parts through @gossip/store).
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { MongoClient, ObjectId, type Db } from 'mongodb';
import { COLLECTIONS, type BusAck, type BusSend, type GatewayMessage } from '@gossip/protocol';
import { createLogger } from '@gossip/servicekit';
import {
  AttachmentBlobs,
  sharedCollections,
  type AttachmentDoc,
  type SharedCollections,
} from '@gossip/store';
import { insertAcceptedContacts, testEnv, uniqueName } from '@gossip/testenv';
import { createEngineMetrics } from '../src/metrics.js';
import { sweepAttachments } from '../src/attachment-sweep.js';
import { startEngineUnderTest, type EngineUnderTest } from './engine-under-test.js';

const GW = 'gw-attachments-test';

describe('engine and attachments', () => {
  const env = testEnv();
  const prefix = uniqueName('attach').replace(/-/g, '_');
  const mongo = new MongoClient(env.mongoUrl);
  let db: Db;
  let c: SharedCollections;
  let blobs: AttachmentBlobs;
  let rig: EngineUnderTest;
  /** Replies (`stored`, `error`) by the connection id they were sent to. */
  const replies = new Map<string, GatewayMessage[]>();

  before(async () => {
    await mongo.connect();
    db = mongo.db(prefix);
    c = sharedCollections(db);
    blobs = new AttachmentBlobs(db);
    rig = await startEngineUnderTest({
      prefix,
      gw: GW,
      env: { ENGINE_PERMISSION_CACHE_MS: '0' },
      onMessage: (parsed) => {
        if (!parsed.ok) return;
        const m = parsed.message;
        if (m.op === 'stored' || m.op === 'error') {
          replies.set(m.conn, [...(replies.get(m.conn) ?? []), m]);
        }
      },
    });
    // alice's contacts: bob and dave (accepted both ways); carol is a stranger.
    for (const u of ['alice', 'bob', 'carol', 'dave']) await c.users.insertOne({ _id: u });
    await insertAcceptedContacts(db, 'alice', 'bob');
    await insertAcceptedContacts(db, 'alice', 'dave');
  });

  after(async () => {
    await rig?.close();
    await db?.dropDatabase().catch(() => undefined);
    await mongo.close();
  });

  const publish = (m: BusSend | BusAck): void => rig.publish(m);

  /** Waits (bounded; not a timing assertion) for the first reply to `connId`. */
  const replyTo = async (connId: string): Promise<GatewayMessage> => {
    for (let i = 0; i < 300; i++) {
      const r = replies.get(connId)?.[0];
      if (r) return r;
      await new Promise((res) => setTimeout(res, 100));
    }
    return assert.fail(`no reply to ${connId}`);
  };

  /** Polls `check` until it holds (bounded), then asserts it. */
  const eventually = async (what: string, check: () => Promise<boolean>): Promise<void> => {
    for (let i = 0; i < 300; i++) {
      if (await check()) return;
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.fail(what);
  };

  /** An attachment as the api stores it: `size` random bytes in one GridFS part. */
  const attachment = async (fields: Partial<AttachmentDoc> = {}): Promise<AttachmentDoc> => {
    const id = randomBytes(16).toString('hex');
    const bytes = randomBytes(fields.size ?? 1000);
    const fileId = await blobs.writePart(id, 0, bytes.length, Readable.from([bytes]));
    const doc: AttachmentDoc = {
      _id: id,
      owner: 'alice',
      size: bytes.length,
      received: bytes.length,
      parts: [{ fileId, offset: 0, length: bytes.length }],
      recipients: ['bob', 'dave'],
      ackedBy: [],
      finished: true,
      digest: 'x'.repeat(43),
      createdAt: new Date(),
      finishedAt: new Date(),
      ...fields,
    };
    await c.attachments.insertOne(doc);
    return doc;
  };

  const send = async (to: string, attachments: string[], from = 'alice') => {
    const connId = randomUUID();
    const id = randomUUID();
    publish({
      op: 'send',
      id,
      from,
      to,
      kind: 'message',
      body: 'Y2lwaGVydGV4dA',
      attachments,
      at: Date.now(),
      gw: GW,
      conn: connId,
    });
    return { id, reply: await replyTo(connId) };
  };

  const gridFsFiles = (doc: AttachmentDoc) =>
    db
      .collection(`${COLLECTIONS.attachmentBucket}.files`)
      .countDocuments({ _id: { $in: doc.parts.map((p) => p.fileId) } });

  test('a send naming a finished upload of the sender for this recipient is stored with it', async () => {
    const a = await attachment();
    const { id, reply } = await send('bob', [a._id]);
    assert.equal(reply.op, 'stored');
    const msg = await c.messages.findOne({ _id: id });
    assert.deepEqual(msg?.attachments, [a._id]);
  });

  test('any other attachment is refused with invalid_attachment and nothing is stored', async () => {
    const unfinished = await attachment({ finished: false, finishedAt: null, digest: null });
    const bobs = await attachment({ owner: 'bob', recipients: ['alice'] });
    const notForDave = await attachment({ recipients: ['bob'] });
    const good = await attachment();
    const cases: Array<[string, string[]]> = [
      ['unfinished', [unfinished._id]],
      ['uploaded by someone else', [bobs._id]],
      ['not naming the recipient', [notForDave._id]],
      ['unknown', ['0'.repeat(32)]],
      ['one good, one bad', [good._id, notForDave._id]],
    ];
    for (const [why, ids] of cases) {
      const { id, reply } = await send('dave', ids);
      assert.equal(reply.op, 'error', why);
      assert.equal(reply.op === 'error' && reply.code, 'invalid_attachment', why);
      assert.equal(await c.messages.countDocuments({ _id: id }), 0, `${why}: nothing stored`);
    }
    // Refusals of the contact rule still come first (carol is no contact).
    const stranger = await send('carol', [good._id]);
    assert.equal(stranger.reply.op === 'error' && stranger.reply.code, 'not_contact');
  });

  test('acks record each recipient; the last named one deletes it and its GridFS files', async () => {
    const a = await attachment();
    const toBob = await send('bob', [a._id]);
    const toDave = await send('dave', [a._id]);
    assert.equal(toBob.reply.op, 'stored');
    assert.equal(toDave.reply.op, 'stored');
    assert.equal(await gridFsFiles(a), 1);
    publish({ op: 'ack', user: 'bob', ids: [toBob.id], gw: GW, conn: randomUUID() });
    await eventually('bob is recorded', async () => {
      const d = await c.attachments.findOne({ _id: a._id });
      return d?.ackedBy.includes('bob') === true;
    });
    assert.equal(await gridFsFiles(a), 1, 'still there for dave');
    publish({ op: 'ack', user: 'dave', ids: [toDave.id], gw: GW, conn: randomUUID() });
    await eventually('deleted after every ack', async () => {
      return (await c.attachments.countDocuments({ _id: a._id })) === 0;
    });
    assert.equal(await gridFsFiles(a), 0);
    const metrics = await rig.engine.metrics.registry.getSingleMetricAsString(
      'gossip_attachments_deleted_total',
    );
    assert.match(metrics, /gossip_attachments_deleted_total\{[^}]*\} 1$/m);
  });

  test('the sweep removes unfinished and expired uploads and leftovers, counted', async () => {
    const hour = 3600 * 1000;
    const now = Date.now();
    const stale = await attachment({
      finished: false,
      finishedAt: null,
      digest: null,
      createdAt: new Date(now - 2 * hour),
    });
    const uploading = await attachment({ finished: false, finishedAt: null, digest: null });
    const old = await attachment({ finishedAt: new Date(now - 8 * 24 * hour) });
    const fresh = await attachment();
    // A part whose request was cut after GridFS wrote chunks, before its `files` document.
    const orphan = new ObjectId(Math.floor((now - 2 * hour) / 1000));
    await db
      .collection(`${COLLECTIONS.attachmentBucket}.chunks`)
      .insertOne({ files_id: orphan, n: 0, data: randomBytes(10) });
    const metrics = createEngineMetrics();
    await sweepAttachments(
      c,
      blobs,
      { attachmentRetentionSeconds: 7 * 24 * 3600, attachmentUploadTimeoutSeconds: 3600 },
      metrics,
      createLogger({ name: 'sweep', level: 'silent' }),
      now,
    );
    const left = await c.attachments.find({}, { projection: { _id: 1 } }).toArray();
    const ids = new Set(left.map((d) => d._id));
    assert.ok(!ids.has(stale._id) && !ids.has(old._id), 'expired ones are gone');
    assert.ok(ids.has(uploading._id) && ids.has(fresh._id), 'current ones stay');
    assert.equal(await gridFsFiles(stale), 0);
    assert.equal(await gridFsFiles(old), 0);
    assert.equal(await gridFsFiles(fresh), 1);
    const chunks = db.collection(`${COLLECTIONS.attachmentBucket}.chunks`);
    assert.equal(await chunks.countDocuments({ files_id: orphan }), 0, 'orphan chunks removed');
    const text = await metrics.registry.metrics();
    assert.match(text, /gossip_attachments_expired_total\{[^}]*reason="unfinished"[^}]*\} 1$/m);
    assert.match(text, /gossip_attachments_expired_total\{[^}]*reason="retention"[^}]*\} 1$/m);
    const stored = await c.attachments.find({}, { projection: { size: 1 } }).toArray();
    assert.match(text, new RegExp(`^gossip_attachments_stored\\{[^}]*\\} ${stored.length}$`, 'm'));
    const bytes = stored.reduce((n, d) => n + d.size, 0);
    assert.match(text, new RegExp(`^gossip_attachments_stored_bytes\\{[^}]*\\} ${bytes}$`, 'm'));
  });
});
