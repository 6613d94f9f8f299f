/**
 * Unit tests of the WebSocket client against a scripted in-memory gateway (real crypto,
 * fake sockets): dedupe across a restart through the persisted seen-set, reordering of
 * out-of-order arrivals, ack only after the handler's promise settles, outbox survival
 * across a restart, token refresh after a refused upgrade, keepalive, backoff bounds,
 * signals, and no `node:` import in the browser entry's WebSocket code.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import type { ClientFrame, DeliverFrame, SendFrame, ServerFrame } from '@gossip/protocol';
import { ApiClient } from '../src/api.js';
import { GossipClient } from '../src/gossip.js';
import { MemoryKeyStore } from '../src/keystore.js';
import { GatewayConnection } from '../src/ws/connection.js';
import type { TokenSource } from '../src/ws/token-source.js';
import {
  Messenger,
  type ChatMessage,
  type MessengerHooks,
  type MessengerOptions,
} from '../src/ws/messenger.js';
import type { SocketCloseEvent, WebSocketFactory, WebSocketLike } from '../src/ws/socket.js';
import { BoundedIdSet, MemoryMessengerStore } from '../src/ws/store.js';
import { FileMessengerStore } from '../src/node/ws.js';
import { FakeApi } from './fake-api.js';

class FakeSocket implements WebSocketLike {
  readyState = 0;
  readonly sent: ClientFrame[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: SocketCloseEvent) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(
    readonly url: string,
    readonly token: string,
  ) {}
  send(data: string): void {
    this.sent.push(JSON.parse(data) as ClientFrame);
  }
  close(code = 1000, reason = ''): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  /** The gateway accepts the upgrade and says hello. */
  hello(username: string): void {
    this.readyState = 1;
    this.onopen?.({});
    this.push({ type: 'hello', version: 1, username, maxFrameBytes: 98_304 });
  }
  push(frame: ServerFrame): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  acks(): string[] {
    return this.sent.flatMap((f) => (f.type === 'ack' ? f.ids : []));
  }
  sends(): SendFrame[] {
    return this.sent.filter((f): f is SendFrame => f.type === 'send');
  }
}

class FakeGateway {
  readonly sockets: FakeSocket[] = [];
  readonly factory: WebSocketFactory = (url, _protocols, token) => {
    const s = new FakeSocket(url, token);
    this.sockets.push(s);
    return s;
  };
  get last(): FakeSocket {
    const s = this.sockets[this.sockets.length - 1];
    if (!s) throw new Error('no socket yet');
    return s;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const tokens: TokenSource = { accessToken: async () => 'token' };

let fake: FakeApi;
let alice: GossipClient;
let bob: GossipClient;

function client(): GossipClient {
  return new GossipClient({
    api: new ApiClient({ baseUrl: 'https://api.test', fetch: fake.fetch }),
    keyStore: new MemoryKeyStore(),
  });
}

before(async () => {
  fake = new FakeApi();
  alice = client();
  bob = client();
  await alice.register({ username: 'alice', password: 'alice password' });
  await bob.register({ username: 'bob', password: 'bob password' });
});

let clock = Date.now();
/** Alice's frames for `text`, as the gateway would deliver them to bob. */
async function fromAlice(text: string): Promise<DeliverFrame[]> {
  const frames = await alice.prepareSend('bob', text);
  await alice.keyMessageAccepted(frames[0] as SendFrame);
  return frames.map((f) => ({
    type: 'deliver',
    id: f.id,
    from: 'alice',
    sentAt: ++clock,
    kind: f.kind,
    body: f.body,
  }));
}

function bobMessenger(gw: FakeGateway, opts: Partial<MessengerOptions> = {}) {
  const shown: ChatMessage[] = [];
  const m = new Messenger({
    gossip: bob,
    url: 'wss://gw.test/ws',
    token: tokens,
    webSocket: gw.factory,
    onMessage: (msg) => {
      shown.push(msg);
    },
    reorderWindowMs: 20,
    ackDelayMs: 0,
    ...opts,
  });
  return { m, shown };
}

test('a delivery handled before a restart is acked again, not shown again (persisted seen-set)', async () => {
  const store = new MemoryMessengerStore();
  const frames = await fromAlice('only once, even across a restart');
  const gw = new FakeGateway();
  const first = bobMessenger(gw, { store });
  await first.m.start();
  gw.last.hello('bob');
  for (const f of frames) gw.last.push(f);
  await until(() => first.shown.length === 1, 'the message to be shown');
  const msgId = frames[frames.length - 1]?.id as string;
  await until(() => gw.last.acks().includes(msgId), 'the ack');
  await first.m.stop();

  const second = bobMessenger(gw, { store });
  await second.m.start();
  gw.last.hello('bob');
  for (const f of frames) gw.last.push(f); // the server redelivers: the ack was lost
  await until(() => gw.last.acks().includes(msgId), 'the ack of the redelivery');
  await sleep(50);
  assert.equal(second.shown.length, 0);
  assert.equal(second.m.stats.duplicates, frames.length);
  await second.m.stop();
});

test('out-of-order arrivals within the window are shown in the sender’s order', async () => {
  const a = await fromAlice('first');
  const b = await fromAlice('second');
  const c = await fromAlice('third');
  const gw = new FakeGateway();
  const { m, shown } = bobMessenger(gw, { reorderWindowMs: 100 });
  await m.start();
  gw.last.hello('bob');
  for (const f of [...c, ...a, ...b]) gw.last.push(f);
  await until(() => shown.length === 3, 'three messages');
  assert.deepEqual(
    shown.map((s) => s.text),
    ['first', 'second', 'third'],
  );
  await m.stop();
});

test('the ack is sent only after the handler’s promise resolves, and not when it rejects', async () => {
  const frames = await fromAlice('slow handler');
  const msg = frames[frames.length - 1] as DeliverFrame;
  const gw = new FakeGateway();
  let release!: () => void;
  let calls = 0;
  const m = new Messenger({
    gossip: bob,
    url: 'wss://gw.test/ws',
    token: tokens,
    webSocket: gw.factory,
    reorderWindowMs: 0,
    ackDelayMs: 0,
    handlerRetryMs: 60_000,
    onMessage: async () => {
      calls++;
      if (calls === 1) throw new Error('app failed');
      await new Promise<void>((r) => (release = r));
    },
  });
  await m.start();
  gw.last.hello('bob');
  for (const f of frames) gw.last.push(f);
  await until(() => calls === 1, 'the first attempt');
  await sleep(50);
  assert.ok(!gw.last.acks().includes(msg.id), 'no ack after a throwing handler');
  gw.last.push(msg); // the redelivery
  await until(() => calls === 2, 'the second attempt');
  await sleep(50);
  assert.ok(!gw.last.acks().includes(msg.id), 'no ack while the handler runs');
  release();
  await until(() => gw.last.acks().includes(msg.id), 'the ack once it resolved');
  await m.stop();
});

test('a delivery that fails for a transient reason keeps its place: later ones wait, then both are shown in order', async () => {
  const one = await fromAlice('one');
  const two = await fromAlice('two');
  const failing = one[one.length - 1] as DeliverFrame;
  let failures = 0;
  const flaky = Object.create(bob) as GossipClient;
  flaky.openDeliver = async (f) => {
    if (f.id === failing.id && failures++ === 0) throw new Error('api unreachable');
    return bob.openDeliver(f);
  };
  const gw = new FakeGateway();
  const { m, shown } = bobMessenger(gw, { gossip: flaky, handlerRetryMs: 100 });
  const kinds: string[] = [];
  m.on('error', (e) => kinds.push(e.kind));
  await m.start();
  gw.last.hello('bob');
  for (const f of [...one, ...two]) gw.last.push(f);
  await until(() => shown.length === 2, 'both messages');
  assert.deepEqual(
    shown.map((x) => x.text),
    ['one', 'two'],
  );
  assert.deepEqual(kinds, ['delivery_failed']);
  await m.stop();
});

test('acks the gateway could not record (error unavailable, ref = first id) are sent again', async () => {
  const frames = await fromAlice('ack me twice');
  const msg = frames[frames.length - 1] as DeliverFrame;
  const gw = new FakeGateway();
  const { m, shown } = bobMessenger(gw);
  await m.start();
  gw.last.hello('bob');
  for (const f of frames) gw.last.push(f);
  await until(() => shown.length === 1 && gw.last.acks().includes(msg.id), 'the first ack');
  const ackFrames = gw.last.sent.filter((f) => f.type === 'ack');
  const first = ackFrames.find((f) => f.ids.includes(msg.id));
  assert.ok(first && first.type === 'ack');
  gw.last.push({
    type: 'error',
    code: 'unavailable',
    message: 'Ack not recorded; send it again.',
    ref: first.ids[0] as string,
  });
  await until(
    () => gw.last.acks().filter((id) => id === msg.id).length === 2,
    'the ack to be sent again',
  );
  assert.equal(shown.length, 1);
  await m.stop();
});

test('stop() during a flush waits for it, then acks what was shown meanwhile (nothing left to the next connect)', async () => {
  // The seen-set save of the first message's flush is held until stop() was called.
  let release: () => void = () => undefined;
  const held = new Promise<void>((r) => (release = r));
  let saves = 0;
  class SlowStore extends MemoryMessengerStore {
    override async saveSeen(ids: string[]): Promise<void> {
      if (saves++ === 0) await held;
      await super.saveSeen(ids);
    }
  }
  const one = await fromAlice('shown while the first flush saves');
  const two = await fromAlice('and this one too');
  const gw = new FakeGateway();
  const { m, shown } = bobMessenger(gw, { store: new SlowStore() });
  await m.start();
  gw.last.hello('bob');
  for (const f of one) gw.last.push(f);
  await until(() => shown.length === 1 && saves === 1, 'the first flush to be saving');
  for (const f of two) gw.last.push(f);
  await until(() => shown.length === 2, 'the second message to be shown');
  const socket = gw.last;
  const stopped = m.stop();
  release();
  await stopped;
  const acked = socket.acks();
  for (const f of [...one, ...two]) {
    if (f.kind === 'message') assert.ok(acked.includes(f.id), `${f.id} acked before the close`);
  }
  assert.equal(socket.readyState, 3);
});

test('unaccepted sends survive a restart and are resent with the same ids', async () => {
  const store = new MemoryMessengerStore();
  const gw = new FakeGateway();
  const opts = {
    gossip: alice,
    url: 'wss://gw.test/ws',
    token: tokens,
    webSocket: gw.factory,
    store,
  };
  const first = new Messenger(opts);
  await first.start();
  gw.last.hello('alice');
  const { id } = await first.send('bob', 'outlives the process');
  await until(() => gw.last.sends().some((f) => f.id === id), 'the first write');
  await first.stop(); // no `accepted` came

  const second = new Messenger(opts);
  const states: string[] = [];
  second.on('status', (s) => s.id === id && states.push(s.state));
  await second.start();
  gw.last.hello('alice');
  await until(() => gw.last.sends().some((f) => f.id === id), 'the resend');
  gw.last.push({ type: 'accepted', id });
  gw.last.push({ type: 'delivered', id, to: 'bob', at: Date.now() });
  await until(() => states.length === 2, 'accepted and delivered');
  assert.deepEqual(states, ['accepted', 'delivered']);
  assert.equal(second.pendingSends, 0);
  await second.stop();
});

test('right after a connect a delivery is shown with every timer frozen: the server orders the replay, no wait does', async (t) => {
  const frames = await fromAlice('shown without waiting');
  const gw = new FakeGateway();
  const shown: ChatMessage[] = [];
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  try {
    const m = new Messenger({
      gossip: bob,
      url: 'wss://gw.test/ws',
      token: tokens,
      webSocket: gw.factory,
      onMessage: (msg) => void shown.push(msg),
    });
    await m.start();
    gw.last.hello('bob');
    for (const f of frames) gw.last.push(f);
    // Crypto and the handler run on promises: let them, without ever firing a timer.
    for (let i = 0; i < 2000 && shown.length === 0; i++) {
      await new Promise((r) => setImmediate(r));
    }
    assert.deepEqual(
      shown.map((x) => x.text),
      ['shown without waiting'],
    );
    t.mock.timers.reset();
    await m.stop();
  } finally {
    t.mock.timers.reset();
  }
});

/** Hooks that record each call by name (the way a chaos or load harness counts). */
function countingHooks(): { hooks: MessengerHooks; calls: Record<string, string[]> } {
  const calls: Record<string, string[]> = {};
  const hit = (name: string, id: string): void => void (calls[name] ??= []).push(id);
  const hooks: MessengerHooks = {
    onSent: (f, resend) => hit(resend ? 'resent' : 'sent', f.id),
    onAccepted: (id) => hit('accepted', id),
    onDelivered: (id) => hit('delivered', id),
    onFailed: (id) => hit('failed', id),
    onReceived: (f) => hit('received', f.id),
    onDuplicate: (id) => hit('duplicate', id),
    onShown: (m) => hit('shown', m.id),
    onAcked: (ids) => ids.forEach((id) => hit('acked', id)),
    onReplayed: (epoch) => hit('replayed', String(epoch)),
  };
  return { hooks, calls };
}

test('the counting hooks see each step of a send once, and a hook that throws changes nothing', async () => {
  const { hooks, calls } = countingHooks();
  const gw = new FakeGateway();
  const m = new Messenger({
    gossip: alice,
    url: 'wss://gw.test/ws',
    token: tokens,
    webSocket: gw.factory,
    hooks: {
      ...hooks,
      onSent: (f, resend) => {
        hooks.onSent?.(f, resend);
        throw new Error('a buggy counter');
      },
    },
  });
  await m.start();
  gw.last.hello('alice');
  const { id } = await m.send('bob', 'counted');
  await until(() => gw.last.sends().some((f) => f.id === id), 'the write');
  assert.deepEqual(
    calls.sent,
    gw.last.sends().map((f) => f.id),
  );
  // A resend's second `accepted` and a repeated receipt are not counted twice.
  gw.last.push({ type: 'accepted', id });
  gw.last.push({ type: 'accepted', id });
  gw.last.push({ type: 'delivered', id, to: 'bob', at: Date.now() });
  gw.last.push({ type: 'delivered', id, to: 'bob', at: Date.now() });
  await m.whenState(id, 'delivered', 3000);
  assert.deepEqual(calls.accepted, [id]);
  assert.deepEqual(calls.delivered, [id]);
  assert.equal(calls.resent, undefined);
  await m.stop();
});

test('the counting hooks see each delivery, duplicate, shown message and ack; `replayed` is an event', async () => {
  const { hooks, calls } = countingHooks();
  const frames = await fromAlice('counted on arrival');
  const msg = frames[frames.length - 1] as DeliverFrame;
  const gw = new FakeGateway();
  const { m, shown } = bobMessenger(gw, { hooks, reorderWindowMs: 0 });
  const replayed: number[] = [];
  m.on('replayed', (r) => replayed.push(r.epoch));
  await m.start();
  gw.last.hello('bob');
  for (const f of frames) gw.last.push(f);
  gw.last.push(msg); // the same delivery again
  gw.last.push({ type: 'replayed' });
  await until(() => gw.last.acks().includes(msg.id), 'the ack');
  assert.equal(shown.length, 1);
  assert.deepEqual(calls.received, [...frames.map((f) => f.id), msg.id]);
  assert.deepEqual(calls.duplicate, [msg.id]);
  assert.deepEqual(calls.shown, [msg.id]);
  assert.deepEqual(new Set(calls.acked), new Set(frames.map((f) => f.id)));
  assert.deepEqual(replayed, [1]);
  assert.deepEqual(calls.replayed, ['1']);
  await m.stop();
});

test('every unaccepted send is rewritten in order, same ids, on a new connection', async () => {
  const gw = new FakeGateway();
  const m = new Messenger({
    gossip: alice,
    url: ['wss://a.test/ws', 'wss://b.test/ws'],
    token: tokens,
    webSocket: gw.factory,
    connection: { backoffInitialMs: 1, backoffMaxMs: 5 },
  });
  await m.start();
  gw.last.hello('alice');
  const ids: string[] = [];
  for (const t of ['one', 'two', 'three']) ids.push((await m.send('bob', t)).id);
  const firstSock = gw.last;
  await until(() => firstSock.sends().length >= 3, 'three writes');
  firstSock.push({ type: 'accepted', id: ids[0] as string });
  firstSock.close(1006, 'gone');
  await until(() => gw.sockets.length === 2, 'a reconnect');
  assert.equal(gw.last.url, 'wss://b.test/ws', 'the next gateway URL');
  gw.last.hello('alice');
  await until(() => gw.last.sends().length >= 2, 'the resends');
  assert.deepEqual(
    gw.last.sends().map((f) => f.id),
    ids.slice(1),
  );
  await m.stop();
});

test('a refused upgrade (4401) makes the next attempt refresh the token', async () => {
  const gw = new FakeGateway();
  const asked: boolean[] = [];
  const conn = new GatewayConnection({
    url: 'wss://gw.test/ws',
    token: { accessToken: async (refresh) => (asked.push(refresh), `t${asked.length}`) },
    webSocket: gw.factory,
    backoffInitialMs: 1,
  });
  conn.start();
  await until(() => gw.sockets.length === 1, 'the first socket');
  gw.last.close(4401, 'upgrade refused with HTTP 401');
  await until(() => gw.sockets.length === 2, 'the second socket');
  assert.deepEqual(asked, [false, true]);
  assert.equal(gw.last.token, 't2');
  gw.last.hello('bob');
  assert.equal(conn.state, 'open');
  await conn.close();
  assert.equal(conn.state, 'closed');
});

test('no answer to a ping drops the connection and reconnects', async () => {
  const gw = new FakeGateway();
  const conn = new GatewayConnection({
    url: 'wss://gw.test/ws',
    token: tokens,
    webSocket: gw.factory,
    pingIntervalMs: 20,
    pongTimeoutMs: 30,
    backoffInitialMs: 1,
  });
  conn.start();
  await until(() => gw.sockets.length === 1, 'a socket');
  gw.last.hello('bob');
  await until(() => gw.sockets.length === 2, 'the reconnect after the silent ping', 2000);
  assert.ok(gw.sockets[0]?.sent.some((f) => f.type === 'ping'));
  await conn.close();
});

test('reconnect delays grow exponentially with jitter inside [cap/2, cap] and a drain uses its delay', async () => {
  for (const r of [0, 0.999]) {
    const gw = new FakeGateway();
    const delays: number[] = [];
    const conn = new GatewayConnection({
      url: 'wss://gw.test/ws',
      token: tokens,
      webSocket: gw.factory,
      backoffInitialMs: 8,
      backoffMaxMs: 32,
      random: () => r,
    });
    conn.on('reconnecting', (e) => delays.push(e.delayMs));
    conn.start();
    for (let i = 1; i <= 4; i++) {
      await until(() => gw.sockets.length === i, `socket ${i}`);
      gw.last.close(1006, 'refused');
    }
    await until(() => delays.length === 4, 'four delays');
    const caps = [8, 16, 32, 32];
    delays.forEach((d, i) => {
      const cap = caps[i] as number;
      assert.ok(d >= cap / 2 && d <= cap, `delay ${d} within [${cap / 2}, ${cap}]`);
    });
    await until(() => gw.sockets.length === 5, 'socket 5');
    gw.last.hello('bob');
    gw.last.push({ type: 'drain', reconnectAfterMs: 40 });
    await until(() => delays.length === 5, 'the drain delay');
    assert.ok((delays[4] as number) >= 40 && (delays[4] as number) <= 60, `drain ${delays[4]}`);
    await conn.close();
  }
});

test('typing signals go out while connected and come in as events', async () => {
  const gw = new FakeGateway();
  const { m } = bobMessenger(gw);
  const got: string[] = [];
  m.on('signal', (s) => got.push(`${s.from}:${s.signal}`));
  await m.start();
  assert.equal(m.signal('alice', 'typing'), false, 'not connected yet');
  gw.last.hello('bob');
  assert.equal(m.signal('alice', 'typing'), true);
  assert.deepEqual(
    gw.last.sent.filter((f) => f.type === 'signal'),
    [{ type: 'signal', to: 'alice', signal: 'typing' }],
  );
  gw.last.push({ type: 'signal', from: 'alice', signal: 'typing' });
  assert.deepEqual(got, ['alice:typing']);
  await m.stop();
});

test('a gateway that authenticates us as someone else is refused for good', async () => {
  const gw = new FakeGateway();
  const { m } = bobMessenger(gw);
  const fatal: string[] = [];
  m.on('error', (e) => e.kind === 'connection' && e.fatal && fatal.push(e.error.message));
  await m.start();
  gw.last.hello('mallory');
  assert.equal(m.connection.state, 'closed');
  assert.match(fatal[0] ?? '', /mallory/);
});

test('the WebSocket client imports no node: module (it runs in browsers)', () => {
  const dir = new URL('../src/ws/', import.meta.url);
  for (const file of readdirSync(dir)) {
    const text = readFileSync(new URL(file, dir), 'utf8');
    assert.doesNotMatch(text, /from 'node:|from 'ws'|\bBuffer\./, file);
  }
});

test('FileMessengerStore keeps the seen-set and outbox in a 0600 file across instances', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gossip-msgstore-'));
  try {
    const a = new FileMessengerStore(dir);
    const frame: SendFrame = {
      type: 'send',
      id: '0b7a3c1e-2f4d-4a5b-9c6d-7e8f9a0b1c2d',
      to: 'bob',
      kind: 'message',
      body: 'ciphertext',
    };
    await Promise.all([a.saveSeen(['x', 'y']), a.saveOutbox([frame])]);
    const b = new FileMessengerStore(dir);
    assert.deepEqual(await b.loadSeen(), ['x', 'y']);
    assert.deepEqual(await b.loadOutbox(), [frame]);
    assert.equal(statSync(join(dir, 'delivery.json')).mode & 0o777, 0o600);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the seen-set forgets the oldest ids past its limit', () => {
  const set = new BoundedIdSet(3, ['a', 'b', 'c']);
  set.add('d');
  assert.deepEqual(set.toArray(), ['b', 'c', 'd']);
  assert.equal(set.has('a'), false);
});
