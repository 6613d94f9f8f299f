/**
 * An upload cut by an api killed with SIGKILL half way through a part: a new api process
 * reports `received` as the parts stored before, nothing of the cut part is listed, its
 * GridFS leftovers are removable (the engine's sweep does it), and the upload resumes and
 * downloads byte-identical. Real api processes (the test environment's launcher) on the
 * test environment's FerretDB and Redis.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import {
  API_PATHS,
  COLLECTIONS,
  attachmentContentRange,
  attachmentPath,
  type AttachmentStatus,
  type Session,
} from '@gossip/protocol';
import { AttachmentBlobs, sharedCollections } from '@gossip/store';
import { ServiceStack, type Service } from '@gossip/testenv';
import { keySets, PASSWORD } from './helpers.js';

const PART = 1 << 20;
let stack: ServiceStack;
let api: Service;

before(async () => {
  stack = new ServiceStack('attach-kill', undefined, { logGroup: 'api-attachments' });
  api = await stack.startApi();
});
after(() => stack?.close());

async function call(path: string, init: RequestInit & { token?: string }): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set('authorization', `Bearer ${init.token}`);
  return fetch(`${api.url}${path}`, { ...init, headers });
}

async function registered(username: string): Promise<Session> {
  const [keys] = await keySets();
  const res = await call(API_PATHS.register, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: PASSWORD, keys }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()) as Session;
}

async function putPart(token: string, id: string, bytes: Buffer, at: number, total: number) {
  const part = bytes.subarray(at, at + PART);
  return call(attachmentPath(API_PATHS.attachmentContent, id), {
    method: 'PUT',
    token,
    headers: {
      'content-type': 'application/octet-stream',
      'content-range': attachmentContentRange(at, at + part.length - 1, total),
    },
    body: Uint8Array.from(part),
  });
}

test('an upload cut by kill -9 of the api resumes from `received` on a new api', async () => {
  const alice = await registered('alice');
  const bob = await registered('bob');
  await stack.makeContacts('alice', 'bob');
  const bytes = randomBytes(3 * PART);
  const made = await call(API_PATHS.attachments, {
    method: 'POST',
    token: alice.accessToken,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ size: bytes.length }),
  });
  assert.equal(made.status, 201);
  const { id } = (await made.json()) as AttachmentStatus;
  assert.equal((await putPart(alice.accessToken, id, bytes, 0, bytes.length)).status, 200);

  // The second part: half of it sent, then the api dies.
  const { hostname, port } = new URL(api.url);
  const cut = new Promise<void>((resolve) => {
    const req = request({
      host: hostname,
      port,
      method: 'PUT',
      path: attachmentPath(API_PATHS.attachmentContent, id),
      headers: {
        authorization: `Bearer ${alice.accessToken}`,
        'content-type': 'application/octet-stream',
        'content-range': attachmentContentRange(PART, 2 * PART - 1, bytes.length),
        'content-length': String(PART),
      },
    });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.write(bytes.subarray(PART, PART + PART / 2));
  });
  // Let the api take some of it into GridFS before it is killed.
  await new Promise((r) => setTimeout(r, 1000));
  await api.proc.kill9();
  await cut;
  api = await stack.startApi();

  const st = await call(attachmentPath(API_PATHS.attachment, id), { token: alice.accessToken });
  assert.equal(st.status, 200);
  assert.equal(((await st.json()) as AttachmentStatus).received, PART, 'only part one counts');
  const c = sharedCollections(stack.db);
  const doc = await c.attachments.findOne({ _id: id });
  assert.equal(doc?.parts.length, 1);
  // Whatever the killed api wrote of part two is listed nowhere; the sweep's orphan
  // removal (here without its grace period) takes it.
  await new AttachmentBlobs(stack.db).removeOrphans(c.attachments, new Date(Date.now() + 60_000));
  const chunkFiles = await stack.db
    .collection(`${COLLECTIONS.attachmentBucket}.chunks`)
    .distinct('files_id');
  assert.deepEqual(
    chunkFiles.map(String),
    doc!.parts.map((p) => String(p.fileId)),
  );

  for (let at = PART; at < bytes.length; at += PART) {
    const res = await putPart(alice.accessToken, id, bytes, at, bytes.length);
    assert.equal(res.status, 200, await res.text());
  }
  const digest = createHash('sha256').update(bytes).digest('base64url');
  const fin = await call(attachmentPath(API_PATHS.attachmentFinish, id), {
    method: 'POST',
    token: alice.accessToken,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ digest, recipients: ['bob'] }),
  });
  assert.equal(fin.status, 200, await fin.clone().text());
  const got = await call(attachmentPath(API_PATHS.attachmentContent, id), {
    token: bob.accessToken,
  });
  assert.equal(got.status, 200);
  assert.ok(Buffer.from(await got.arrayBuffer()).equals(bytes));
});
