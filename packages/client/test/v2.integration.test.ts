/**
 * End-to-end encryption v2 in the SDK (issue 16) through real api, engine and gateway
 * processes: two clients chat v2 both ways (receipts, offline replay), a v1-only client
 * and a v2 client still talk (v1), a client restarted from its Node key files keeps
 * chatting, a crash between decrypting and the handler's end neither loses a message nor
 * shows it twice to the new process (its kept message key opens the redelivery, then is
 * deleted with the ack), the
 * one-time prekeys are topped up, and neither the plaintext nor the X25519 private keys
 * are in MongoDB, RabbitMQ, Redis or the service logs.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { messageBodyVersion, parseRatchetState } from '@gossip/crypto';
import type { DeliverFrame, SendFrame } from '@gossip/protocol';
import { ApiClient } from '../src/api.js';
import { ApiError, DuplicateMessageError } from '../src/errors.js';
import { GossipClient } from '../src/gossip.js';
import type { StoredSession } from '../src/keystore.js';
import { FileKeyStore, FileMessengerStore } from '../src/node/index.js';
import type { ChatMessage } from '../src/ws/messenger.js';
import { DeliveryStack, eventually, Recorder, sleep } from './delivery-stack.js';

const stack = new DeliveryStack();
const recorders: Recorder[] = [];
let dir: string;
let tap: Awaited<ReturnType<DeliveryStack['tapDeliveries']>> | undefined;

function recorder(...args: ConstructorParameters<typeof Recorder>): Recorder {
  const r = new Recorder(...args);
  recorders.push(r);
  return r;
}

let gwUrl: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gossip-v2-'));
  // Every test registers two users from this one address: above the default per-IP limit.
  await stack.startApi({ API_REGISTER_MAX_PER_IP: '1000' });
  // Unacked messages come back after 2 s, so the crash test's redelivery is quick.
  await stack.startEngine({ ENGINE_REDELIVERY_SECONDS: '2', ENGINE_SCAN_INTERVAL_MS: '200' });
  gwUrl = (await stack.startGateway()).wsUrl;
  tap = await stack.tapDeliveries();
});

after(async () => {
  await Promise.allSettled(recorders.map((r) => r.messenger.stop()));
  await tap?.close();
  await stack.close();
  await rm(dir, { recursive: true, force: true });
});

/** Two contacts; `opts` per side. */
async function pair(
  aOpts: Parameters<DeliveryStack['user']>[1] = {},
  bOpts: Parameters<DeliveryStack['user']>[1] = {},
): Promise<[GossipClient, GossipClient]> {
  const a = await stack.user('alice', aOpts);
  const b = await stack.user('bob', bOpts);
  await a.api.requestContact(b.username);
  await b.acceptContact(a.username);
  return [a, b];
}

/** The bodies MongoDB holds for these message ids (before they are acked). */
async function storedVersions(ids: string[]): Promise<number[]> {
  const docs = await stack.db
    .collection<{ _id: string; body: string }>('messages')
    .find({ _id: { $in: ids } })
    .toArray();
  return docs.map((d) => messageBodyVersion(d.body));
}

async function sendAll(from: Recorder, to: string, texts: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const t of texts) ids.push((await from.messenger.send(to, t)).id);
  return ids;
}

const versions = (shown: ChatMessage[]): number[] => shown.map((m) => m.version);

describe('v2 through the SDK', () => {
  it('two v2 clients chat both ways: v: 2 bodies, each message once and in order, receipts', async () => {
    const [a, b] = await pair();
    const ra = await recorder(a, [gwUrl]).start();
    const rb = await recorder(b, [gwUrl]).start();
    const ids = await sendAll(ra, b.username, ['a1', 'a2', 'a3']);
    await eventually(() => rb.shown.length >= 3, 'bob got 3');
    assert.deepEqual(rb.texts(), ['a1', 'a2', 'a3']);
    assert.deepEqual(versions(rb.shown), [2, 2, 2]);
    assert.deepEqual((await a.v2Status(b.username)).session, true);
    const back = await sendAll(rb, a.username, ['b1', 'b2']);
    await eventually(() => ra.shown.length >= 2, 'alice got 2');
    assert.deepEqual(ra.texts(), ['b1', 'b2']);
    assert.deepEqual(versions(ra.shown), [2, 2]);
    // The initiator's session is confirmed once bob's reply decrypted.
    assert.equal((await a.v2Status(b.username)).pending, false);
    for (const id of ids) {
      await eventually(() => ra.statesOf(id).includes('delivered'), `receipt for ${id}`);
    }
    for (const id of back) {
      await eventually(() => rb.statesOf(id).includes('delivered'), `receipt for ${id}`);
    }
    assert.deepEqual(ra.errors, []);
    assert.deepEqual(rb.errors, []);
  });

  it('offline: messages sent while bob is away are replayed in order when he connects', async () => {
    const [a, b] = await pair();
    const ra = await recorder(a, [gwUrl]).start();
    const ids = await sendAll(ra, b.username, ['o1', 'o2', 'o3', 'o4']);
    for (const id of ids) await ra.messenger.whenState(id, 'accepted');
    assert.deepEqual(await storedVersions(ids), [2, 2, 2, 2]);
    const rb = await recorder(b, [gwUrl]).start();
    await eventually(() => rb.shown.length >= 4, 'bob got the backlog');
    assert.deepEqual(rb.texts(), ['o1', 'o2', 'o3', 'o4']);
    await sendAll(rb, a.username, ['reply']);
    await eventually(() => ra.shown.length >= 1, 'alice got the reply');
    assert.deepEqual(versions(ra.shown), [2]);
  });

  it('a v1-only client (v2 off) and a v2 client talk v1 both ways', async () => {
    const [a, b] = await pair({}, { v2: false });
    await assert.rejects(
      a.api.getPrekeyBundle(b.username),
      (e: unknown) => e instanceof ApiError && e.code === 'prekeys_not_found',
    );
    const ra = await recorder(a, [gwUrl]).start();
    const rb = await recorder(b, [gwUrl]).start();
    await sendAll(ra, b.username, ['to-v1']);
    await eventually(() => rb.shown.length >= 1, 'the v1 client got it');
    await sendAll(rb, a.username, ['from-v1']);
    await eventually(() => ra.shown.length >= 1, 'the v2 client got it');
    assert.deepEqual([...versions(rb.shown), ...versions(ra.shown)], [1, 1]);
    assert.deepEqual([rb.texts(), ra.texts()], [['to-v1'], ['from-v1']]);
    assert.equal((await a.v2Status(b.username)).session, false);
  });

  it('bob restarts from his Node key files mid-conversation and both keep chatting v2', async () => {
    const bobDir = join(dir, `bob-${randomBytes(3).toString('hex')}`);
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const [a, b] = await pair({}, { keyStore: new FileKeyStore(bobDir), password });
    const ra = await recorder(a, [gwUrl]).start();
    const rb = await recorder(b, [gwUrl], { store: new FileMessengerStore(bobDir) }).start();
    await sendAll(ra, b.username, ['before-1', 'before-2']);
    await eventually(() => rb.shown.length >= 2, 'bob got 2');
    await sendAll(rb, a.username, ['bob-before']);
    await eventually(() => ra.shown.length >= 1, 'alice got 1');
    await rb.messenger.stop();

    // A new process: nothing but the folder.
    const b2 = new GossipClient({
      api: new ApiClient({ baseUrl: stack.api.url }),
      keyStore: new FileKeyStore(bobDir),
    });
    const { hasKeys } = await b2.login(b.username, password);
    assert.equal(hasKeys, true);
    assert.equal((await b2.v2Status(a.username)).session, true);
    const rb2 = await recorder(b2, [gwUrl], { store: new FileMessengerStore(bobDir) }).start();
    await sendAll(ra, b.username, ['after-1', 'after-2']);
    await eventually(() => rb2.shown.length >= 2, 'restarted bob got 2');
    await sendAll(rb2, a.username, ['bob-after']);
    await eventually(() => ra.shown.length >= 2, 'alice got bob-after');
    assert.deepEqual(rb2.texts(), ['after-1', 'after-2']);
    assert.deepEqual(ra.texts(), ['bob-before', 'bob-after']);
    assert.deepEqual(versions([...rb2.shown, ...ra.shown]), [2, 2, 2, 2]);
    assert.deepEqual(rb2.errors, []);
  });

  it('a crash between decrypting and the handler finishing: the redelivery is shown again once, acked, its kept key deleted', async () => {
    const bobDir = join(dir, `crash-${randomBytes(3).toString('hex')}`);
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const [a, b] = await pair({}, { keyStore: new FileKeyStore(bobDir), password });
    const ra = await recorder(a, [gwUrl]).start();
    const rb = recorder(b, [gwUrl], { store: new FileMessengerStore(bobDir) });
    // The handler never returns: the message was decrypted and handed over, never acked.
    rb.beforeReturn = (m) => {
      crashedOn.push(m.text);
      return new Promise<void>(() => undefined);
    };
    const crashedOn: string[] = [];
    await rb.start();
    const [id] = await sendAll(ra, b.username, ['crash-1']);
    await eventually(() => crashedOn.length >= 1, 'bob decrypted crash-1');
    await rb.messenger.stop(); // the "crash": the connection goes, no ack was sent
    assert.equal(await storedCount([id as string]), 1, 'still stored (not acked)');
    // The state step is on disk with the message id and its kept key (nothing else kept).
    const before = await bobSession(bobDir, a.username);
    assert.ok(before.received.includes(id as string), 'the id is in received');
    assert.deepEqual(
      (before.unacked ?? []).map((k) => k.id),
      [id],
      'the unacked message key is kept',
    );

    const b2 = new GossipClient({
      api: new ApiClient({ baseUrl: stack.api.url }),
      keyStore: new FileKeyStore(bobDir),
    });
    await b2.login(b.username, password);
    const rb2 = await recorder(b2, [gwUrl], { store: new FileMessengerStore(bobDir) }).start();
    await eventually(() => rb2.shown.length >= 1, 'the redelivery is shown to the new process');
    await eventually(async () => (await storedCount([id as string])) === 0, 'and was acked');
    assert.deepEqual(rb2.texts(), ['crash-1']);
    assert.equal(rb2.shown[0]?.version, 2);
    // After the handler finished (and the ack), the kept key is gone from the key file.
    const afterAck = await bobSession(bobDir, a.username);
    assert.deepEqual(afterAck.unacked ?? [], [], 'no message key kept after the ack');
    assert.ok(afterAck.received.includes(id as string), 'the id is still in received');
    // A redelivery now (an ack lost) is a duplicate, not shown again.
    const redelivered: DeliverFrame = {
      type: 'deliver',
      id: id as string,
      from: a.username,
      sentAt: Date.now(),
      kind: 'message',
      body: rb2.shown[0]!.ciphertext,
    };
    await assert.rejects(b2.openDeliver(redelivered), DuplicateMessageError);
    const [id2] = await sendAll(ra, b.username, ['crash-2']);
    await eventually(() => rb2.shown.length >= 2, 'the next message decrypts');
    // Its key is deleted when the handler has finished, before the ack: wait for the ack.
    await eventually(async () => (await storedCount([id2 as string])) === 0, 'crash-2 acked');
    assert.deepEqual(crashedOn, ['crash-1']);
    assert.deepEqual(
      rb2.texts(),
      ['crash-1', 'crash-2'],
      'crash-1 shown once more after the crash, crash-2 once',
    );
    assert.equal(rb2.messenger.stats.duplicates, 0, 'the redelivery was no duplicate');
    assert.deepEqual((await bobSession(bobDir, a.username)).unacked ?? [], [], 'none kept');
    assert.deepEqual(rb2.errors, []);
  });

  it('bob changes keys: alice follows the signed change, drops the session and starts a new one', async () => {
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const [a, b] = await pair({}, { password });
    const ra = await recorder(a, [gwUrl]).start();
    const rb = await recorder(b, [gwUrl]).start();
    await sendAll(ra, b.username, ['old-1']);
    await eventually(() => rb.shown.length >= 1, 'bob got old-1');
    await sendAll(rb, a.username, ['old-reply']);
    await eventually(() => ra.shown.length >= 1, 'alice got the reply');
    const old = parseRatchetState((await a.keyStore.getSession(b.username, 'main'))!.state);
    assert.equal(old.init, undefined);
    const oldAd = old.ad;

    assert.equal((await b.changeKeys(password)).signed, true);
    assert.equal((await b.api.getPrekeyStatus()).published, true, 'bob re-published v2 keys');
    // The gateway tells alice; she follows the change and drops the session.
    await eventually(
      async () => (await a.keyStore.getSession(b.username, 'main')) === undefined,
      'alice dropped the session',
    );
    await sendAll(ra, b.username, ['new-1']);
    await eventually(() => rb.shown.length >= 2, 'bob got new-1');
    // A new X3DH session: its messages carry the init until bob replies (the old one had
    // been confirmed by his reply). The X25519 identity keys, and so the AD, are the same.
    const next = parseRatchetState((await a.keyStore.getSession(b.username, 'main'))!.state);
    assert.ok(next.init, 'a new X3DH session');
    assert.equal(next.ad, oldAd);
    assert.deepEqual(rb.texts(), ['old-1', 'new-1']);
    assert.deepEqual(versions(rb.shown), [2, 2]);
    assert.deepEqual(rb.errors, []);
  });

  it('both start a session at once: one session wins on both sides, every message opens once', async () => {
    const [a, b] = await pair();
    const deliver = (from: GossipClient, f: SendFrame): DeliverFrame => ({
      type: 'deliver',
      id: f.id,
      from: from.username,
      sentAt: Date.now(),
      kind: f.kind,
      body: f.body,
    });
    const open = async (to: GossipClient, from: GossipClient, f: SendFrame): Promise<string> => {
      const o = await to.openDeliver(deliver(from, f));
      assert.ok(o.kind === 'message' && o.version === 2);
      return o.text;
    };
    // Both send before either got anything: two sessions, each carrying its X3DH init.
    const [a1] = await a.prepareSend(b.username, 'a1');
    const [b1] = await b.prepareSend(a.username, 'b1');
    const [b1late] = await b.prepareSend(a.username, 'b1-late');
    const [a2] = await a.prepareSend(b.username, 'a2');
    assert.equal(await open(b, a, a1!), 'a1');
    assert.equal(await open(a, b, b1!), 'b1');
    assert.equal(await open(b, a, a2!), 'a2');
    // Then a conversation both ways, and a late message of the losing session.
    const [b2] = await b.prepareSend(a.username, 'b2');
    const [a3] = await a.prepareSend(b.username, 'a3');
    const [b3] = await b.prepareSend(a.username, 'b3');
    assert.equal(await open(a, b, b2!), 'b2');
    assert.equal(await open(b, a, a3!), 'a3');
    assert.equal(await open(a, b, b3!), 'b3');
    assert.equal(await open(a, b, b1late!), 'b1-late', 'read with the kept previous session');
    // Both now send under the same session (same X3DH associated data).
    const adOf = async (c: GossipClient, peer: string): Promise<string> =>
      parseRatchetState((await c.keyStore.getSession(peer, 'main'))!.state).ad;
    assert.equal(await adOf(a, b.username), await adOf(b, a.username));
    // A redelivery of an opened message not handled yet (a crash before the handler
    // finished) opens again with its kept key; once handled it is a duplicate, not an error.
    const again = await b.openDeliver(deliver(a, a3!));
    assert.ok(again.kind === 'message' && again.text === 'a3', 'not handled: opens again');
    await b.messageHandled(again);
    await assert.rejects(b.openDeliver(deliver(a, a3!)), DuplicateMessageError);
  });

  it('kept keys of unhandled messages are bounded: beyond unackedKeysKept the oldest is a duplicate', async () => {
    const [a, b] = await pair({}, { v2: { unackedKeysKept: 2 } });
    const deliver = (f: SendFrame): DeliverFrame => ({
      type: 'deliver',
      id: f.id,
      from: a.username,
      sentAt: Date.now(),
      kind: f.kind,
      body: f.body,
    });
    const frames: SendFrame[] = [];
    for (const t of ['u1', 'u2', 'u3']) frames.push((await a.prepareSend(b.username, t))[0]!);
    // Opened, never handled (no messageHandled): only the last two keys are kept.
    for (const f of frames) await b.openDeliver(deliver(f));
    const kept = (await b.keyStore.getSession(a.username, 'main'))?.unacked ?? [];
    assert.deepEqual(
      kept.map((k) => k.id),
      frames.slice(1).map((f) => f.id),
    );
    await assert.rejects(b.openDeliver(deliver(frames[0]!)), DuplicateMessageError);
    const u3 = await b.openDeliver(deliver(frames[2]!));
    assert.ok(u3.kind === 'message' && u3.text === 'u3', 'a kept one opens again');
    await b.messageHandled(u3);
    assert.deepEqual(
      ((await b.keyStore.getSession(a.username, 'main'))?.unacked ?? []).map((k) => k.id),
      [frames[1]!.id],
    );
  });

  it('one-time prekeys are topped up after login and after sessions were accepted', async () => {
    const opts = { oneTimePrekeyBatch: 6, oneTimePrekeyLowWater: 4, topUpEverySessions: 1 };
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const [a, b] = await pair({}, { v2: opts, password });
    assert.equal((await b.api.getPrekeyStatus()).oneTimePrekeys, 6, 'published at sign-up');
    // Three fetches hand out three one-time prekeys: 3 left, under the low water mark.
    for (let i = 0; i < 3; i++) await a.api.getPrekeyBundle(b.username);
    assert.equal((await b.api.getPrekeyStatus()).oneTimePrekeys, 3);
    const b2 = new GossipClient({
      api: new ApiClient({ baseUrl: stack.api.url }),
      keyStore: b.keyStore,
      v2: opts,
    });
    await b2.login(b.username, password);
    assert.equal((await b2.api.getPrekeyStatus()).oneTimePrekeys, 9, 'topped up at login');
    // Carol, Dave... start sessions with bob: each takes one; bob tops up as he accepts.
    const ra = await recorder(a, [gwUrl]).start();
    const rb = await recorder(b2, [gwUrl]).start();
    for (let i = 0; i < 6; i++) await a.api.getPrekeyBundle(b.username); // 3 left
    await sendAll(ra, b.username, ['takes-one']); // 2 left; bob accepts and checks
    await eventually(() => rb.shown.length >= 1, 'bob got it');
    const status = await eventually(async () => {
      const s = await b2.api.getPrekeyStatus();
      return s.oneTimePrekeys >= 4 && s;
    }, 'bob topped up after accepting the session');
    assert.equal(status.oneTimePrekeys, 8);
    assert.equal(b2.v2.lastError, undefined);
    // The private halves of what is published are in bob's store (and one was used).
    assert.equal((await b2.keyStore.listOneTimePrekeyIds()).length >= 8, true);
  });

  it('a connecting Messenger rotates a signed prekey past its age; the old one is kept', async () => {
    const b = await stack.user('rot', { v2: { signedPrekeyMaxAgeMs: 1, checkEveryMs: 0 } });
    const first = (await b.api.getPrekeyStatus()).signedPrekeyId;
    assert.ok(first);
    await sleep(5); // older than 1 ms
    await recorder(b, [gwUrl]).start();
    await eventually(
      async () => (await b.api.getPrekeyStatus()).signedPrekeyId !== first,
      'the signed prekey rotated on connect',
    );
    const kept = (await b.keyStore.listSignedPrekeys()).map((p) => p.id);
    assert.ok(kept.includes(first), 'the rotated one is kept for first messages in flight');
    assert.equal(b.v2.lastError, undefined);
  });

  it('neither the plaintext nor any X25519 private key is in MongoDB, RabbitMQ, Redis or the logs', async () => {
    const marker = `V2-PLAINTEXT-${randomBytes(6).toString('hex')}`;
    const bobDir = join(dir, `scan-${randomBytes(3).toString('hex')}`);
    const [a, b] = await pair({}, { keyStore: new FileKeyStore(bobDir) });
    const ra = await recorder(a, [gwUrl]).start();
    const rb = recorder(b, [gwUrl]);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    rb.beforeReturn = () => held; // keep them stored (unacked) until scanned
    await rb.start();
    const ids = await sendAll(ra, b.username, [`${marker} one`, `${marker} two`]);
    for (const id of ids) await ra.messenger.whenState(id, 'accepted');
    await eventually(() => rb.messenger.stats.deliveries >= 2, 'bob got both');
    assert.deepEqual(await storedVersions(ids), [2, 2]);

    const v2file = JSON.parse(await readFile(join(bobDir, 'v2.json'), 'utf8')) as {
      identity: { priv: string };
      signedPrekeys: { priv: string }[];
      oneTimePrekeys: { priv: string }[];
      sessions: { state: string }[];
    };
    const secrets = [
      v2file.identity.priv,
      ...v2file.signedPrekeys.map((p) => p.priv),
      ...v2file.oneTimePrekeys.map((p) => p.priv),
      ...v2file.sessions.map((s) => (JSON.parse(s.state) as { rk: string }).rk),
    ];
    assert.ok(secrets.length >= 3);
    const places: string[] = [];
    const look = (where: string, text: string): void => {
      if (text.includes(marker)) places.push(`${where}: plaintext`);
      for (const s of secrets) if (text.includes(s)) places.push(`${where}: a private key`);
    };
    for (const { name } of await stack.db.listCollections().toArray()) {
      for (const doc of await stack.db.collection(name).find({}).toArray()) {
        look(name, JSON.stringify(doc));
      }
    }
    for (const [key, value] of await stack.redisValues()) look(`redis ${key}`, value);
    const tapped = tap?.payloads ?? [];
    assert.ok(tapped.length > 0, 'the tap saw the deliveries');
    for (const payload of tapped) look('rabbitmq', payload.toString('utf8'));
    release();
    await eventually(() => rb.shown.length >= 2, 'bob shows both');
    await sleep(200);
    look('logs', stack.services.logs());
    assert.deepEqual(places, []);
    assert.ok(rb.texts().every((t) => t.startsWith(marker)));
  });
});

/** Bob's stored session with `peer`, read from his `v2.json` key file. */
async function bobSession(bobDir: string, peer: string): Promise<StoredSession> {
  const file = JSON.parse(await readFile(join(bobDir, 'v2.json'), 'utf8')) as {
    sessions: StoredSession[];
  };
  const s = file.sessions.find((x) => x.peer === peer);
  assert.ok(s, `bob has a session with ${peer}`);
  return s;
}

async function storedCount(ids: string[]): Promise<number> {
  return stack.db.collection('messages').countDocuments({ _id: { $in: ids as never[] } });
}
