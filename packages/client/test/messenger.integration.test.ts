/**
 * The SDK's WebSocket client (Messenger) through real api, engine and gateway processes:
 * chat both ways with delivery states, and the guarantees under faults — each message
 * shown to the application exactly once and in the sender's order while the test forces
 * duplicates (gateway kill -9, lost acks, drain, engine kill -9 with resends, a throwing
 * handler), and a message that arrives before its key is held until the key comes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GatewayConnection } from '../src/ws/connection.js';
import { apiTokenSource } from '../src/ws/token-source.js';
import { nodeWebSocketFactory } from '../src/node/ws.js';
import {
  DeliveryStack,
  eventually,
  Recorder,
  sleep,
  type Gw,
  type Proc,
} from './delivery-stack.js';

const stack = new DeliveryStack();
let engine: Proc;
let gw1: Gw;
const recorders: Recorder[] = [];

function recorder(...args: ConstructorParameters<typeof Recorder>): Recorder {
  const r = new Recorder(...args);
  recorders.push(r);
  return r;
}

async function storedCount(ids: string[]): Promise<number> {
  return stack.db.collection('messages').countDocuments({ _id: { $in: ids as never[] } });
}

/** Asserts `shown` holds exactly `expected`, once each, in that order. */
function assertExactlyOnceInOrder(shown: string[], expected: string[], who: string): void {
  assert.equal(new Set(shown).size, shown.length, `${who} saw a duplicate`);
  assert.deepEqual(shown, expected, `${who} saw the messages out of order or incomplete`);
}

before(async () => {
  await stack.startApi();
  // Unacked messages come back after 2 s: duplicates are forced, not hoped for.
  engine = await stack.startEngine({
    ENGINE_REDELIVERY_SECONDS: '2',
    ENGINE_SCAN_INTERVAL_MS: '200',
  });
  gw1 = await stack.startGateway();
});

after(async () => {
  await Promise.allSettled(recorders.map((r) => r.messenger.stop()));
  await stack.close();
});

describe('Messenger through the real gateway', () => {
  it('two clients chat both ways; each side sees every message once, in order; states reach delivered', async () => {
    const [a, b] = await stack.pair();
    const alice = await recorder(a, [gw1.wsUrl]).start();
    const bob = await recorder(b, [gw1.wsUrl]).start();
    const fromAlice: string[] = [];
    const fromBob: string[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const ta = `alice to bob #${i}`;
      const tb = `bob to alice #${i}`;
      fromAlice.push(ta);
      fromBob.push(tb);
      const [x, y] = await Promise.all([
        alice.messenger.send(b.username, ta),
        bob.messenger.send(a.username, tb),
      ]);
      ids.push(x.id);
      void y;
    }
    await eventually(
      () => bob.shown.length === 8 && alice.shown.length === 8,
      'both sides to see 8 messages',
    );
    assertExactlyOnceInOrder(bob.texts(), fromAlice, 'bob');
    assertExactlyOnceInOrder(alice.texts(), fromBob, 'alice');
    for (const m of bob.shown) {
      assert.equal(m.from, a.username);
      assert.ok(!m.ciphertext.includes('alice to bob'), 'the stored body is ciphertext');
    }
    await eventually(
      () => ids.every((id) => alice.statesOf(id).includes('delivered')),
      'every message of alice to be delivered',
    );
    for (const id of ids)
      assert.deepEqual(alice.statesOf(id), ['sending', 'accepted', 'delivered']);
    await eventually(async () => (await storedCount(ids)) === 0, 'acked messages to be deleted');
    assert.deepEqual(alice.errors, []);
    assert.deepEqual(bob.errors, []);
  });

  it('kill -9 of the recipient’s gateway mid-stream: it reconnects to another gateway; every message shown once, in order, although acks were lost', async () => {
    const gwX = await stack.startGateway();
    const [a, b] = await stack.pair();
    const alice = await recorder(a, [gw1.wsUrl]).start();
    // Acks held back 1.5 s: when the gateway dies, shown messages are still unacked, so
    // the replay on the next gateway brings them again (forced duplicates).
    const bob = await recorder(b, [gwX.wsUrl, gw1.wsUrl], { ackDelayMs: 1500 }).start();
    const sent: string[] = [];
    for (let i = 0; i < 40; i++) {
      const text = `stream ${i}`;
      sent.push(text);
      await alice.messenger.send(b.username, text);
      if (i === 20) {
        await eventually(() => bob.shown.length > 5, 'bob to have seen some messages');
        await gwX.proc.kill9();
      }
      await sleep(20);
    }
    await eventually(() => bob.shown.length >= 40, 'bob to see all 40 messages', 40_000);
    await sleep(1000); // let any late duplicate arrive
    assert.deepEqual(
      bob.errors.filter((e) => e.kind !== 'connection'),
      [],
    );
    assert.deepEqual(alice.errors, []);
    if (process.env.TRACE) console.log(bob.trace.join('\n'));
    assertExactlyOnceInOrder(bob.texts(), sent, 'bob');
    assert.ok(bob.messenger.stats.connections >= 2, 'bob reconnected');
    assert.equal(bob.messenger.connection.url, gw1.wsUrl);
    assert.ok(
      bob.messenger.stats.duplicates > 0,
      `duplicates were forced (${JSON.stringify(bob.messenger.stats)})`,
    );
    assert.equal(alice.messenger.pendingSends, 0);
  });

  it('resends with the same id after a reconnect are stored once (engine down, sender’s gateway killed)', async () => {
    const gwY = await stack.startGateway();
    const [a, b] = await stack.pair();
    const alice = await recorder(a, [gwY.wsUrl, gw1.wsUrl]).start();
    await engine.proc.kill9();
    const texts = ['while the engine is down 1', 'while the engine is down 2', 'and 3'];
    const ids: string[] = [];
    for (const t of texts) ids.push((await alice.messenger.send(b.username, t)).id);
    await sleep(500);
    assert.deepEqual(
      ids.map((id) => alice.statesOf(id)),
      ids.map(() => ['sending']),
      'nothing is accepted without an engine',
    );
    const written = alice.messenger.stats.written;
    await gwY.proc.kill9();
    await eventually(() => alice.messenger.stats.resent >= written, 'alice to resend on gw1');
    // Both copies of every send now wait in the engine queue: one from each gateway.
    engine = await stack.startEngine(
      { ENGINE_REDELIVERY_SECONDS: '2', ENGINE_SCAN_INTERVAL_MS: '200' },
      'engine-2',
    );
    await eventually(
      () => ids.every((id) => alice.statesOf(id).includes('accepted')),
      'every resend to be accepted',
      30_000,
    );
    // bob is offline: what is stored is exactly one document per message id (plus
    // alice's key messages: her key was unconfirmed, so each send carried one).
    const docs = await stack.db
      .collection<{ _id: string }>('messages')
      .find({ to: b.username, kind: 'message' })
      .toArray();
    assert.deepEqual(docs.map((d) => d._id).sort(), [...ids].sort());
    const bob = await recorder(b, [gw1.wsUrl]).start();
    await eventually(() => bob.shown.length >= 3, 'bob to read them');
    await sleep(500);
    assertExactlyOnceInOrder(bob.texts(), texts, 'bob');
  });

  it('a drain makes the client reconnect to another gateway with nothing lost', async () => {
    const gwZ = await stack.startGateway();
    const [a, b] = await stack.pair();
    const alice = await recorder(a, [gw1.wsUrl]).start();
    const bob = await recorder(b, [gwZ.wsUrl, gw1.wsUrl]).start();
    const sent: string[] = [];
    let stopping: Promise<unknown> | undefined;
    for (let i = 0; i < 30; i++) {
      const text = `drain ${i}`;
      sent.push(text);
      await alice.messenger.send(b.username, text);
      if (i === 10) stopping = gwZ.proc.stop(10_000); // SIGTERM: the gateway drains
      await sleep(30);
    }
    await stopping;
    await eventually(() => bob.shown.length >= 30, 'bob to see all 30 messages', 30_000);
    await sleep(500);
    assertExactlyOnceInOrder(bob.texts(), sent, 'bob');
    assert.equal(bob.messenger.stats.drains, 1);
    assert.equal(bob.messenger.connection.url, gw1.wsUrl);
  });

  it('a handler that throws gets no ack; the server redelivers and the message is shown again, before the later ones', async () => {
    const [a, b] = await stack.pair();
    const alice = await recorder(a, [gw1.wsUrl]).start();
    // handlerRetryMs is long: only the server's redelivery can bring it back in time.
    const bob = await recorder(b, [gw1.wsUrl], { handlerRetryMs: 60_000 }).start();
    let refusals = 0;
    const attempts: string[] = [];
    bob.beforeReturn = (m) => {
      attempts.push(m.text);
      if (m.text === 'second' && refusals++ === 0) throw new Error('the app failed');
    };
    const ids: string[] = [];
    for (const t of ['first', 'second', 'third']) {
      ids.push((await alice.messenger.send(b.username, t)).id);
    }
    await eventually(() => refusals === 1, 'the handler to refuse "second"');
    await sleep(300);
    assert.equal(await storedCount([ids[1] as string]), 1, 'the refused message is not acked');
    assert.deepEqual(bob.texts(), ['first'], 'nothing after the refused one is shown yet');
    await eventually(() => bob.shown.length === 3, 'the redelivery to be shown', 20_000);
    assert.deepEqual(bob.texts(), ['first', 'second', 'third']);
    assert.deepEqual(attempts, ['first', 'second', 'second', 'third']);
    assert.equal(bob.errors.filter((e) => e.kind === 'handler_failed').length, 1);
    await eventually(async () => (await storedCount(ids)) === 0, 'all three acked and deleted');
  });

  it('a message that arrives before its key is held (unacked) and shown once the key arrives', async () => {
    // v1 (key frames); a v2 message carries what starts its session.
    const a = await stack.user('alice', { v2: false });
    const b = await stack.user('bob', { v2: false });
    await b.api.requestContact(a.username);
    await a.api.acceptContact(b.username); // no key envelope: alice must send a key message
    const bob = await recorder(b, [gw1.wsUrl]).start();
    const held: string[] = [];
    bob.messenger.on('held', (h) => held.push(h.id));
    const [keyFrame, msgFrame] = await a.prepareSend(b.username, 'sealed before its key');
    assert.equal(keyFrame?.kind, 'key');
    assert.equal(msgFrame?.kind, 'message');
    // alice's raw connection sends the message first, the key only later.
    const conn = new GatewayConnection({
      url: gw1.wsUrl,
      token: apiTokenSource(a.api),
      webSocket: nodeWebSocketFactory(),
    });
    const accepted = new Set<string>();
    conn.on('frame', (f) => f.type === 'accepted' && accepted.add(f.id));
    conn.start();
    try {
      await eventually(() => conn.state === 'open', 'alice to connect');
      assert.ok(conn.trySend(msgFrame), 'the message written');
      await eventually(() => accepted.has(msgFrame.id), 'the message to be accepted');
      await eventually(() => held.includes(msgFrame.id), 'bob to hold the message');
      await sleep(500);
      assert.deepEqual(bob.shown, [], 'not shown without its key');
      assert.equal(await storedCount([msgFrame.id]), 1, 'not acked while held');
      assert.ok(conn.trySend(keyFrame), 'the key written');
      await eventually(() => bob.shown.length === 1, 'the held message to be shown');
      assert.deepEqual(bob.texts(), ['sealed before its key']);
      await eventually(
        async () => (await storedCount([keyFrame.id, msgFrame.id])) === 0,
        'key and message acked',
      );
      await sleep(300);
      assert.equal(bob.shown.length, 1, 'the key message itself is never shown');
    } finally {
      await conn.close();
    }
  });

  it('a token the gateway refuses is refreshed through the api, and the client connects', async () => {
    const [a] = await stack.pair();
    const real = apiTokenSource(a.api);
    const asked: boolean[] = [];
    const conn = new GatewayConnection({
      url: gw1.wsUrl,
      webSocket: nodeWebSocketFactory(),
      backoffInitialMs: 50,
      token: {
        accessToken: async (refresh) => {
          asked.push(refresh);
          return asked.length === 1 ? 'not-a-valid-token' : real.accessToken(refresh);
        },
      },
    });
    const closes: number[] = [];
    conn.on('closed', (c) => closes.push(c.code));
    const before = a.api.currentSession?.refreshToken;
    conn.start();
    try {
      await eventually(() => conn.state === 'open', 'the connection to open after a refresh');
      assert.deepEqual(closes, [4401], 'the refused upgrade is reported as 4401');
      assert.deepEqual(asked, [false, true]);
      assert.notEqual(a.api.currentSession?.refreshToken, before, 'the session was refreshed');
    } finally {
      await conn.close();
    }
  });

  it('typing signals reach an online contact and are never stored', async () => {
    const [a, b] = await stack.pair();
    const alice = await recorder(a, [gw1.wsUrl]).start();
    const bob = await recorder(b, [gw1.wsUrl]).start();
    const got: string[] = [];
    bob.messenger.on('signal', (s) => got.push(`${s.from}:${s.signal}`));
    assert.equal(alice.messenger.signal(b.username, 'typing'), true);
    await eventually(() => got.length === 1, 'bob to see alice typing');
    assert.deepEqual(got, [`${a.username}:typing`]);
    assert.equal(
      await stack.db.collection('messages').countDocuments({ from: a.username }),
      0,
      'signals are not stored',
    );
  });
});
