/**
 * Attachments through the api's REST routes on the test environment's FerretDB (GridFS)
 * and Redis: round trips of every size class up to the limit, resume after a cut part,
 * ranges, and every refusal storing nothing. The bytes are random (the client's
 * encryption is packages/crypto's); the server must keep exactly them and nothing more.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { GridFSBucket, type ObjectId } from 'mongodb';
import {
  API_PATHS,
  ATTACHMENT_CHUNK_BYTES,
  COLLECTIONS,
  DEFAULT_ATTACHMENT_MAX_BYTES,
  MAX_ATTACHMENT_PART_BYTES,
  attachmentCiphertextBytes,
  attachmentContentRange,
  attachmentPath,
  type AttachmentStatus,
  type Session,
} from '@gossip/protocol';
import { PASSWORD, bearer, errorOf, keySets, register, startApi, type Harness } from './helpers.js';

let h: Harness;
const s: Record<string, Session> = {};

async function befriend(a: string, b: string): Promise<void> {
  const req = await h.app.inject({
    method: 'POST',
    url: `/v1/contacts/${b}/request`,
    headers: bearer(s[a]!),
  });
  assert.equal(req.statusCode, 204, req.body);
  const acc = await h.app.inject({
    method: 'POST',
    url: `/v1/contacts/${a}/accept`,
    headers: bearer(s[b]!),
  });
  assert.equal(acc.statusCode, 204, acc.body);
}

before(async () => {
  h = await startApi();
  const [k] = await keySets();
  for (const name of ['alice', 'bob', 'carol', 'dave']) s[name] = await register(h.app, name, k!);
  await befriend('alice', 'bob');
  await befriend('alice', 'dave');
});
after(() => h.close());

const digestOf = (b: Buffer): string => createHash('sha256').update(b).digest('base64url');

function create(who: string, size: number) {
  return h.app.inject({
    method: 'POST',
    url: API_PATHS.attachments,
    headers: bearer(s[who]!),
    payload: { size },
  });
}

function putPart(who: string, id: string, bytes: Buffer, start: number, total: number) {
  return h.app.inject({
    method: 'PUT',
    url: attachmentPath(API_PATHS.attachmentContent, id),
    headers: {
      ...bearer(s[who]!),
      'content-type': 'application/octet-stream',
      'content-range': attachmentContentRange(start, start + bytes.length - 1, total),
    },
    payload: bytes,
  });
}

function finish(who: string, id: string, digest: string, recipients: string[]) {
  return h.app.inject({
    method: 'POST',
    url: attachmentPath(API_PATHS.attachmentFinish, id),
    headers: bearer(s[who]!),
    payload: { digest, recipients },
  });
}

function download(who: string, id: string, range?: string) {
  return h.app.inject({
    method: 'GET',
    url: attachmentPath(API_PATHS.attachmentContent, id),
    headers: { ...bearer(s[who]!), ...(range ? { range } : {}) },
  });
}

async function withdraw(who: string, id: string): Promise<void> {
  const res = await h.app.inject({
    method: 'DELETE',
    url: attachmentPath(API_PATHS.attachment, id),
    headers: bearer(s[who]!),
  });
  assert.equal(res.statusCode, 204, res.body);
}

function status(who: string, id: string) {
  return h.app.inject({
    method: 'GET',
    url: attachmentPath(API_PATHS.attachment, id),
    headers: bearer(s[who]!),
  });
}

/** Uploads `bytes` in parts of `partBytes` and returns the id (not finished). */
async function uploadParts(who: string, bytes: Buffer, partBytes: number): Promise<string> {
  const res = await create(who, bytes.length);
  assert.equal(res.statusCode, 201, res.body);
  const id = res.json<AttachmentStatus>().id;
  for (let at = 0; at < bytes.length; at += partBytes) {
    const part = await putPart(who, id, bytes.subarray(at, at + partBytes), at, bytes.length);
    assert.equal(part.statusCode, 200, part.body);
    assert.equal(part.json<AttachmentStatus>().received, Math.min(bytes.length, at + partBytes));
  }
  return id;
}

async function upload(who: string, bytes: Buffer, recipients: string[], partBytes = 1 << 20) {
  const id = await uploadParts(who, bytes, partBytes);
  const done = await finish(who, id, digestOf(bytes), recipients);
  assert.equal(done.statusCode, 200, done.body);
  assert.equal(done.json<AttachmentStatus>().finished, true);
  return id;
}

const files = () => h.db.collection(`${COLLECTIONS.attachmentBucket}.files`);
const chunks = () => h.db.collection(`${COLLECTIONS.attachmentBucket}.chunks`);
const docs = () => h.db.collection(COLLECTIONS.attachments);

/** The GridFS files of attachment `id` (parts), listed or not. */
function partsOf(id: string) {
  return files().find({ 'metadata.attachment': id }).toArray();
}

/**
 * The parts are plain GridFS: a GridFSBucket reads each back as the bytes at its offset,
 * and `metadata.chunkIds` names the part's chunks in order (what the api reads them by).
 */
async function assertGridFsLayout(id: string, bytes: Buffer): Promise<void> {
  const bucket = new GridFSBucket(h.db, { bucketName: COLLECTIONS.attachmentBucket });
  for (const f of await partsOf(id)) {
    const got: Buffer[] = [];
    for await (const b of bucket.openDownloadStream(f._id)) got.push(b as Buffer);
    const offset = (f.metadata as { offset: number }).offset;
    const want = bytes.subarray(offset, offset + (f.length as number));
    assert.ok(Buffer.concat(got).equals(want), `GridFSBucket reads part ${offset} back`);
    const ids = (f.metadata as { chunkIds: ObjectId[] }).chunkIds;
    const byFile = await chunks().find({ files_id: f._id }).sort({ n: 1 }).toArray();
    assert.deepEqual(
      ids.map((c) => c.toHexString()),
      byFile.map((c) => (c._id as ObjectId).toHexString()),
    );
  }
}

describe('round trips', () => {
  const cases: Array<[string, number]> = [
    ['0 bytes', 0],
    ['1 byte', 1],
    ['exactly one chunk', ATTACHMENT_CHUNK_BYTES],
    ['many chunks', ATTACHMENT_CHUNK_BYTES * 37 + 5],
    ['the size limit', DEFAULT_ATTACHMENT_MAX_BYTES],
  ];
  for (const [name, plain] of cases) {
    test(`${name}: the recipient and the uploader get the exact bytes back`, async () => {
      const bytes = randomBytes(attachmentCiphertextBytes(plain));
      const id = await upload('alice', bytes, ['bob'], MAX_ATTACHMENT_PART_BYTES);
      for (const who of ['bob', 'alice']) {
        const res = await download(who, id);
        assert.equal(res.statusCode, 200);
        assert.equal(res.headers['content-type'], 'application/octet-stream');
        assert.equal(res.headers['accept-ranges'], 'bytes');
        assert.equal(Number(res.headers['content-length']), bytes.length);
        assert.ok(res.rawPayload.equals(bytes), `${who} got the same bytes`);
      }
      // GridFS holds exactly the bytes sent, under no name but the attachment's id.
      const stored = await partsOf(id);
      assert.equal(
        stored.reduce((n, f) => n + (f.length as number), 0),
        bytes.length,
      );
      for (const f of stored) {
        assert.deepEqual(Object.keys(f.metadata as object).sort(), [
          'attachment',
          'chunkIds',
          'offset',
        ]);
        assert.match(f.filename as string, new RegExp(`^${id}\\.\\d+$`));
      }
      await assertGridFsLayout(id, bytes);
      // Withdrawn again: FerretDB's SQLite backend scans whole collections for GridFS
      // reads, so the later tests stay quick with a small bucket.
      await withdraw('alice', id);
    });
  }

  test('an upload over the limit is refused at creation, storing nothing', async () => {
    const before = await docs().countDocuments({});
    const res = await create('alice', attachmentCiphertextBytes(DEFAULT_ATTACHMENT_MAX_BYTES) + 1);
    assert.deepEqual(errorOf(res), { status: 413, code: 'attachment_too_large' });
    assert.equal(await docs().countDocuments({}), before);
  });
});

describe('parts', () => {
  test('a part not starting at `received` is refused (409) and stores nothing', async () => {
    const bytes = randomBytes(3 * ATTACHMENT_CHUNK_BYTES);
    const res = await create('alice', bytes.length);
    const id = res.json<AttachmentStatus>().id;
    const first = bytes.subarray(0, ATTACHMENT_CHUNK_BYTES);
    assert.equal((await putPart('alice', id, first, 0, bytes.length)).statusCode, 200);
    const again = await putPart('alice', id, first, 0, bytes.length);
    assert.deepEqual(errorOf(again), { status: 409, code: 'attachment_offset_mismatch' });
    const skip = bytes.subarray(2 * ATTACHMENT_CHUNK_BYTES);
    const gap = await putPart('alice', id, skip, 2 * ATTACHMENT_CHUNK_BYTES, bytes.length);
    assert.deepEqual(errorOf(gap), { status: 409, code: 'attachment_offset_mismatch' });
    assert.equal((await partsOf(id)).length, 1);
    assert.equal((await status('alice', id)).json<AttachmentStatus>().received, first.length);
  });

  test('a range beyond the size, a bad Content-Range, a short small part are refused', async () => {
    const bytes = randomBytes(2 * ATTACHMENT_CHUNK_BYTES);
    const id = (await create('alice', bytes.length)).json<AttachmentStatus>().id;
    const url = attachmentPath(API_PATHS.attachmentContent, id);
    const put = (range: string, payload: Buffer) =>
      h.app.inject({
        method: 'PUT',
        url,
        headers: {
          ...bearer(s.alice!),
          'content-type': 'application/octet-stream',
          'content-range': range,
        },
        payload,
      });
    const beyond = await put(`bytes 0-${bytes.length}/${bytes.length}`, bytes);
    assert.deepEqual(errorOf(beyond), { status: 416, code: 'range_not_satisfiable' });
    const wrongTotal = await put(`bytes 0-9/${bytes.length + 1}`, bytes.subarray(0, 10));
    assert.deepEqual(errorOf(wrongTotal), { status: 400, code: 'validation_failed' });
    const garbage = await put('items 0-9', bytes.subarray(0, 10));
    assert.deepEqual(errorOf(garbage), { status: 400, code: 'validation_failed' });
    const small = await put(`bytes 0-9/${bytes.length}`, bytes.subarray(0, 10));
    assert.deepEqual(errorOf(small), { status: 400, code: 'validation_failed' });
    const lying = await put(`bytes 0-${ATTACHMENT_CHUNK_BYTES}/${bytes.length}`, bytes);
    assert.deepEqual(errorOf(lying), { status: 400, code: 'validation_failed' });
    const json = await h.app.inject({
      method: 'PUT',
      url,
      headers: { ...bearer(s.alice!), 'content-range': `bytes 0-1/${bytes.length}` },
      payload: { a: 1 },
    });
    assert.deepEqual(errorOf(json), { status: 415, code: 'unsupported_media_type' });
    assert.equal((await partsOf(id)).length, 0);
    assert.equal(await unlistedChunkFiles(), 0);
  });

  test('a part cut half way stores nothing of it; the upload resumes from `received`', async () => {
    const bytes = randomBytes(3 * (1 << 20));
    const part = 1 << 20;
    // Even an empty file has one chunk with its tag.
    assert.deepEqual(errorOf(await create('alice', 0)), { status: 400, code: 'validation_failed' });
    const created = await create('alice', bytes.length);
    const aid = created.json<AttachmentStatus>().id;
    assert.equal(
      (await putPart('alice', aid, bytes.subarray(0, part), 0, bytes.length)).statusCode,
      200,
    );

    // The second part, cut after half of its bytes (the client goes away).
    const address = await h.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (h.app.server.address() as AddressInfo).port;
    assert.ok(address);
    await new Promise<void>((resolve) => {
      const req = request({
        host: '127.0.0.1',
        port,
        method: 'PUT',
        path: attachmentPath(API_PATHS.attachmentContent, aid),
        headers: {
          ...bearer(s.alice!),
          'content-type': 'application/octet-stream',
          'content-range': attachmentContentRange(part, 2 * part - 1, bytes.length),
          'content-length': String(part),
        },
      });
      req.on('error', () => resolve());
      req.on('close', () => resolve());
      req.write(bytes.subarray(part, part + part / 2), () => {
        setTimeout(() => req.destroy(), 200);
      });
    });
    // The api notices the cut and removes what it wrote of that part: only part one stays.
    let listed = -1;
    for (let i = 0; i < 100; i++) {
      const all = await partsOf(aid);
      listed = all.length;
      if (listed === 1 && (await unlistedChunkFiles()) === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(listed, 1, 'only the first part is stored');
    assert.equal(await unlistedChunkFiles(), 0, 'no chunk of the cut part is left');
    const st = (await status('alice', aid)).json<AttachmentStatus>();
    assert.equal(st.received, part);
    for (let at = st.received; at < bytes.length; at += part) {
      const res = await putPart('alice', aid, bytes.subarray(at, at + part), at, bytes.length);
      assert.equal(res.statusCode, 200, res.body);
    }
    assert.equal((await finish('alice', aid, digestOf(bytes), ['bob'])).statusCode, 200);
    assert.ok((await download('bob', aid)).rawPayload.equals(bytes));
    await withdraw('alice', aid);
  });
});

/** GridFS files with chunks that no attachment lists as a part (one scan of each). */
async function unlistedChunkFiles(): Promise<number> {
  const listed = new Set<string>();
  for await (const d of docs().find({}, { projection: { parts: 1 } })) {
    for (const p of d.parts as Array<{ fileId: { toHexString(): string } }>) {
      listed.add(p.fileId.toHexString());
    }
  }
  const withChunks = (await chunks().distinct('files_id')) as Array<{ toHexString(): string }>;
  return withChunks.filter((f) => !listed.has(f.toHexString())).length;
}

describe('finish', () => {
  test('an incomplete upload cannot be finished (409)', async () => {
    const id = (await create('alice', 100)).json<AttachmentStatus>().id;
    const res = await finish('alice', id, digestOf(Buffer.alloc(0)), ['bob']);
    assert.deepEqual(errorOf(res), { status: 409, code: 'attachment_incomplete' });
  });

  test('a wrong digest is refused (422) and deletes the upload', async () => {
    const bytes = randomBytes(ATTACHMENT_CHUNK_BYTES * 2);
    const id = await uploadParts('alice', bytes, ATTACHMENT_CHUNK_BYTES);
    assert.equal((await partsOf(id)).length, 2);
    const res = await finish('alice', id, digestOf(randomBytes(8)), ['bob']);
    assert.deepEqual(errorOf(res), { status: 422, code: 'attachment_digest_mismatch' });
    assert.equal(await docs().countDocuments({ _id: id as never }), 0);
    assert.equal((await partsOf(id)).length, 0);
    assert.equal(errorOf(await status('alice', id)).status, 404);
  });

  test('a recipient who is not an accepted contact is refused (403 not_contact)', async () => {
    const bytes = randomBytes(40);
    const id = await uploadParts('alice', bytes, ATTACHMENT_CHUNK_BYTES);
    const res = await finish('alice', id, digestOf(bytes), ['bob', 'carol']);
    assert.deepEqual(errorOf(res), { status: 403, code: 'not_contact' });
    assert.equal((await status('alice', id)).json<AttachmentStatus>().finished, false);
    assert.equal(errorOf(await download('bob', id)).status, 404);
  });

  test('finishing again with the same digest answers the same status', async () => {
    const bytes = randomBytes(50);
    const id = await upload('alice', bytes, ['bob']);
    const again = await finish('alice', id, digestOf(bytes), ['bob']);
    assert.equal(again.statusCode, 200);
    assert.equal(again.json<AttachmentStatus>().finished, true);
    const other = await finish('alice', id, digestOf(randomBytes(3)), ['bob']);
    assert.deepEqual(errorOf(other), { status: 409, code: 'attachment_finished' });
  });
});

describe('who may read', () => {
  test('only the uploader and the named recipients; anyone else gets 404', async () => {
    const bytes = randomBytes(1000);
    const id = await uploadParts('alice', bytes, ATTACHMENT_CHUNK_BYTES);
    // Before the finish, the named-to-be recipient sees nothing either.
    assert.deepEqual(errorOf(await status('bob', id)), { status: 404, code: 'not_found' });
    assert.deepEqual(errorOf(await download('alice', id)), { status: 404, code: 'not_found' });
    assert.equal((await finish('alice', id, digestOf(bytes), ['bob'])).statusCode, 200);
    for (const who of ['carol', 'dave']) {
      assert.deepEqual(errorOf(await status(who, id)), { status: 404, code: 'not_found' });
      assert.deepEqual(errorOf(await download(who, id)), { status: 404, code: 'not_found' });
    }
    assert.equal((await status('bob', id)).statusCode, 200);
    // Only the uploader may add parts or withdraw it.
    const put = await putPart('bob', id, bytes, 0, bytes.length);
    assert.deepEqual(errorOf(put), { status: 404, code: 'not_found' });
    const del = await h.app.inject({
      method: 'DELETE',
      url: attachmentPath(API_PATHS.attachment, id),
      headers: bearer(s.bob!),
    });
    assert.deepEqual(errorOf(del), { status: 404, code: 'not_found' });
    const unknown = await download('bob', 'f'.repeat(32));
    assert.deepEqual(errorOf(unknown), { status: 404, code: 'not_found' });
  });

  test('the uploader withdraws it: 204, then gone with its GridFS files', async () => {
    const bytes = randomBytes(ATTACHMENT_CHUNK_BYTES + 7);
    const id = await upload('alice', bytes, ['bob'], ATTACHMENT_CHUNK_BYTES);
    await withdraw('alice', id);
    assert.equal(errorOf(await download('bob', id)).status, 404);
    assert.equal((await partsOf(id)).length, 0);
  });
});

describe('ranges', () => {
  test('Range bytes=N- and bytes=N-M answer 206 with those bytes; past the end 416', async () => {
    const bytes = randomBytes(5 * ATTACHMENT_CHUNK_BYTES + 123);
    const id = await upload('alice', bytes, ['bob'], 2 * ATTACHMENT_CHUNK_BYTES);
    const from = ATTACHMENT_CHUNK_BYTES * 2 - 5; // starts inside one part, runs across others
    const tail = await download('bob', id, `bytes=${from}-`);
    assert.equal(tail.statusCode, 206);
    assert.equal(
      tail.headers['content-range'],
      `bytes ${from}-${bytes.length - 1}/${bytes.length}`,
    );
    assert.equal(Number(tail.headers['content-length']), bytes.length - from);
    assert.ok(tail.rawPayload.equals(bytes.subarray(from)));
    const mid = await download('bob', id, `bytes=10-${ATTACHMENT_CHUNK_BYTES * 3}`);
    assert.equal(mid.statusCode, 206);
    assert.ok(mid.rawPayload.equals(bytes.subarray(10, ATTACHMENT_CHUNK_BYTES * 3 + 1)));
    // 416 says the size (RFC 9110 §15.5.17), so a client can ask again within it.
    const past = await download('bob', id, `bytes=${bytes.length}-`);
    assert.deepEqual(errorOf(past), { status: 416, code: 'range_not_satisfiable' });
    assert.equal(past.headers['content-range'], `bytes */${bytes.length}`);
    const many = await download('bob', id, 'bytes=0-1,5-6');
    assert.deepEqual(errorOf(many), { status: 416, code: 'range_not_satisfiable' });
    assert.equal(many.headers['content-range'], `bytes */${bytes.length}`);
    await withdraw('alice', id);
  });

  test('ranges starting and ending inside GridFS chunks of parts of several chunks', async () => {
    // 1 MiB parts hold four 255 KiB GridFS chunks and a piece of a fifth.
    const gridChunk = 255 * 1024;
    const bytes = randomBytes(3 * (1 << 20) + 7);
    const id = await upload('alice', bytes, ['bob'], 1 << 20);
    const cases: Array<[number, number]> = [
      [gridChunk - 1, gridChunk],
      [gridChunk + 3, 3 * gridChunk + 9],
      [(1 << 20) - 2, (1 << 20) + 2 * gridChunk],
      [2 * (1 << 20) + 4 * gridChunk + 1, bytes.length - 1],
    ];
    for (const [from, to] of cases) {
      const res = await download('bob', id, `bytes=${from}-${to}`);
      assert.equal(res.statusCode, 206, res.body);
      assert.ok(res.rawPayload.equals(bytes.subarray(from, to + 1)), `bytes ${from}-${to}`);
    }
    await withdraw('alice', id);
  });
});

describe('quota', () => {
  test('creating beyond the per-user quota is refused (403) and stores nothing', async () => {
    const q = await startApi({ API_ATTACHMENT_QUOTA_BYTES: String(200_000) });
    try {
      const [k] = await keySets();
      const eve = await register(q.app, 'eve', k!);
      const make = (size: number) =>
        q.app.inject({
          method: 'POST',
          url: API_PATHS.attachments,
          headers: bearer(eve),
          payload: { size },
        });
      assert.equal((await make(150_000)).statusCode, 201);
      const over = await make(60_000);
      assert.deepEqual(errorOf(over), { status: 403, code: 'attachment_quota_exceeded' });
      assert.equal(await q.db.collection(COLLECTIONS.attachments).countDocuments({}), 1);
      assert.equal((await make(50_000)).statusCode, 201);
      const metrics = await q.app.ops.inject({ method: 'GET', url: '/metrics' });
      assert.match(metrics.body, /gossip_attachments_refused_total\{[^}]*reason="quota"[^}]*\} 1/);
      assert.match(metrics.body, /gossip_attachments_refused_total\{[^}]*reason="digest"[^}]*\} 0/);
    } finally {
      await q.close();
    }
  });
});

test('deleting the account deletes its attachments and their GridFS files', async () => {
  const id = await upload('dave', randomBytes(300), ['alice']);
  assert.equal((await partsOf(id)).length, 1);
  const res = await h.app.inject({
    method: 'DELETE',
    url: API_PATHS.me,
    headers: bearer(s.dave!),
    payload: { password: PASSWORD },
  });
  assert.equal(res.statusCode, 204, res.body);
  assert.equal(await docs().countDocuments({ owner: 'dave' }), 0);
  assert.equal((await partsOf(id)).length, 0);
});

test('metrics count finished uploads, bytes and downloads', async () => {
  const res = await h.app.ops.inject({ method: 'GET', url: '/metrics' });
  const value = (name: string): number => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)$`, 'm').exec(res.body);
    return m ? Number(m[1]) : NaN;
  };
  assert.ok(value('gossip_attachments_uploads_total') >= 5);
  assert.ok(value('gossip_attachments_uploaded_bytes_total') > DEFAULT_ATTACHMENT_MAX_BYTES);
  assert.ok(value('gossip_attachments_downloads_total') >= 10);
  assert.ok(value('gossip_attachments_downloaded_bytes_total') > DEFAULT_ATTACHMENT_MAX_BYTES);
});
