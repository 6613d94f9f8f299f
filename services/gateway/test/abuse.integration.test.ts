/**
 * Bad input and abuse against a real gateway and engine: each gets a clear error (an
 * `error` frame, or a 401 before the upgrade), nothing is stored for it, the connection
 * (where it makes sense) and every other client keep working.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import {
  deliveryExchange,
  ENGINE_ROUTING_KEY,
  MAX_FRAME_BYTES,
  newMessageId,
  type ErrorFrame,
} from '@gossip/protocol';
import { eventually, Stack, type GatewayService } from './support/stack.js';
import { UpgradeRefused, WsClient } from './support/wsclient.js';

const opaque = (): string => randomBytes(24).toString('base64');
const isError = (code: string) => (f: { type: string; code?: string }) =>
  f.type === 'error' && f.code === code;

async function stillServes(c: WsClient): Promise<void> {
  const ts = Date.now();
  c.send({ type: 'ping', ts });
  await c.waitFor((f) => f.type === 'pong' && f.ts === ts, 5000, 'pong');
}

describe('abuse and bad input', () => {
  const stack = new Stack('abuse');
  let gw: GatewayService;
  const messages = () => stack.db.collection('messages');

  before(async () => {
    await stack.startEngine({ ENGINE_MAX_REDELIVERIES: '3' });
    gw = await stack.startGateway({
      GATEWAY_RATE_PER_SECOND: '10',
      GATEWAY_RATE_BURST: '20',
      // The flood test counts every refusal; closing the flooder is ratelimit's subject.
      GATEWAY_RATE_VIOLATIONS_MAX: '100000',
    });
    await stack.createUsers('alice', 'bob', 'carol', 'mallory', 'dave');
    await stack.makeContacts('alice', 'bob');
    await stack.makeContacts('carol', 'bob');
    await stack.makeContacts('mallory', 'bob');
    await stack.makeContacts('dave', 'bob', 'bob'); // bob blocked dave
  });
  after(() => stack.close());

  it('refuses an upgrade without a token, with an expired one or a forged one: 401 before the upgrade', async () => {
    const refused = async (token: string | undefined): Promise<UpgradeRefused> => {
      try {
        const c = await WsClient.connect(gw.wsUrl, token);
        await c.close();
      } catch (err) {
        if (err instanceof UpgradeRefused) return err;
        throw err;
      }
      assert.fail('the upgrade was accepted');
    };
    const none = await refused(undefined);
    assert.equal(none.status, 401);
    assert.equal(JSON.parse(none.body).error.code, 'unauthorized');

    const expired = await refused(
      await stack.token('alice', 60, Math.floor(Date.now() / 1000) - 3600),
    );
    assert.equal(expired.status, 401);
    assert.equal(JSON.parse(expired.body).error.code, 'token_expired');

    const good = await stack.token('alice');
    const forged = good.slice(0, -4) + (good.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    const bad = await refused(forged);
    assert.equal(bad.status, 401);
    assert.equal(JSON.parse(bad.body).error.code, 'invalid_token');
    assert.equal((await refused('not-a-jwt')).status, 401);

    // The query parameter works for browsers.
    const viaQuery = await WsClient.connect(gw.wsUrl, good, { viaQuery: true });
    await stillServes(viaQuery);
    await viaQuery.close();
    assert.ok(!stack.logs().includes(good), 'a token was logged');
  });

  it('answers malformed JSON, unknown types, bad frames and binary frames with error frames and keeps the connection', async () => {
    const c = await WsClient.connect(gw.wsUrl, await stack.token('alice'));
    c.send('{"type": "send", oops');
    await c.waitFor(isError('bad_json'));
    c.send({ type: 'launch-missiles' });
    await c.waitFor(isError('unknown_type'));
    c.send({ type: 'send', id: 'not-a-uuid', to: 'bob', kind: 'message', body: 'eA==' });
    await c.waitFor(isError('bad_frame'));
    const id = newMessageId();
    c.send({ type: 'send', id, to: 'bob', kind: 'message', body: opaque(), from: 'carol' });
    const e = await c.waitFor<ErrorFrame>(isError('bad_frame'));
    assert.ok(e.message.length > 0);
    c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    await eventually(
      () => c.frames.filter((f) => f.type === 'error' && f.code === 'bad_frame').length >= 3,
      'binary refused',
    );
    await stillServes(c);
    assert.equal(await messages().countDocuments({ _id: id as never }), 0);
    await c.close();
  });

  it('refuses an oversized frame with frame_too_large; a huge one closes the socket with 1009', async () => {
    const c = await WsClient.connect(gw.wsUrl, await stack.token('alice'));
    const id = newMessageId();
    const body = 'A'.repeat(MAX_FRAME_BYTES + 100);
    c.send({ type: 'send', id, to: 'bob', kind: 'message', body });
    await c.waitFor(isError('frame_too_large'));
    await stillServes(c);
    c.send('x'.repeat(MAX_FRAME_BYTES * 3));
    const closed = await c.closed;
    assert.equal(closed.code, 1009);
    assert.equal(await messages().countDocuments({ _id: id as never }), 0);
  });

  it('send to an unknown user, a non-contact or a user who blocked you: clear error, nothing stored', async () => {
    const c = await WsClient.connect(gw.wsUrl, await stack.token('alice'));
    const d = await WsClient.connect(gw.wsUrl, await stack.token('dave'));
    const [u, n, b] = [newMessageId(), newMessageId(), newMessageId()];
    c.send({ type: 'send', id: u, to: 'nobody_here', kind: 'message', body: opaque() });
    c.send({ type: 'send', id: n, to: 'carol', kind: 'message', body: opaque() });
    d.send({ type: 'send', id: b, to: 'bob', kind: 'message', body: opaque() });
    const eu = await c.waitFor<ErrorFrame>((f) => f.type === 'error' && f.ref === u);
    assert.equal(eu.code, 'unknown_recipient');
    const en = await c.waitFor<ErrorFrame>((f) => f.type === 'error' && f.ref === n);
    assert.equal(en.code, 'not_contact');
    const eb = await d.waitFor<ErrorFrame>((f) => f.type === 'error' && f.ref === b);
    // Told what a stranger is told: a block is not revealed to the blocked sender.
    assert.equal(eb.code, 'not_contact');
    assert.equal(await messages().countDocuments({ _id: { $in: [u, n, b] as never[] } }), 0);
    await Promise.all([c.close(), d.close()]);
  });

  it('an ack of someone else’s message is refused with not_yours and deletes nothing', async () => {
    const alice = await WsClient.connect(gw.wsUrl, await stack.token('alice'));
    const carol = await WsClient.connect(gw.wsUrl, await stack.token('carol'));
    const id = newMessageId();
    alice.send({ type: 'send', id, to: 'bob', kind: 'message', body: opaque() });
    await alice.waitFor((f) => f.type === 'accepted' && f.id === id);
    for (const c of [alice, carol]) {
      c.send({ type: 'ack', ids: [id] });
      const e = await c.waitFor<ErrorFrame>((f) => f.type === 'error' && f.ref === id);
      assert.equal(e.code, 'not_yours');
    }
    assert.equal(await messages().countDocuments({ _id: id as never }), 1);
    // The real recipient still gets it and can ack it.
    const bob = await WsClient.connect(gw.wsUrl, await stack.token('bob'));
    await bob.waitFor((f) => f.type === 'deliver' && f.id === id);
    bob.send({ type: 'ack', ids: [id] });
    await eventually(
      async () => (await messages().countDocuments({ _id: id as never })) === 0,
      'deletion by the recipient',
    );
    await Promise.all([alice.close(), carol.close(), bob.close()]);
  });

  it('a flood past the rate limit gets rate_limited errors, stores only what was accepted, and other clients are unaffected', async () => {
    const mallory = await WsClient.connect(gw.wsUrl, await stack.token('mallory'));
    const carol = await WsClient.connect(gw.wsUrl, await stack.token('carol'));
    const flood = Array.from({ length: 300 }, () => newMessageId());
    for (const id of flood) {
      mallory.send({ type: 'send', id, to: 'bob', kind: 'message', body: opaque() });
    }
    // Meanwhile carol chats normally.
    const mine = Array.from({ length: 5 }, () => newMessageId());
    for (const id of mine) {
      carol.send({ type: 'send', id, to: 'bob', kind: 'message', body: opaque() });
    }
    await eventually(
      () => mine.every((id) => carol.frames.some((f) => f.type === 'accepted' && f.id === id)),
      'carol’s messages accepted',
    );
    const answered = (id: string) =>
      mallory.frames.some(
        (f) => (f.type === 'accepted' && f.id === id) || (f.type === 'error' && f.ref === id),
      );
    await eventually(() => flood.every(answered), 'every flooded send answered');
    const limited = flood.filter((id) =>
      mallory.frames.some((f) => f.type === 'error' && f.code === 'rate_limited' && f.ref === id),
    );
    const acceptedIds = flood.filter((id) =>
      mallory.frames.some((f) => f.type === 'accepted' && f.id === id),
    );
    assert.ok(limited.length >= 250, `most of the flood is refused (${limited.length})`);
    assert.equal(limited.length + acceptedIds.length, flood.length);
    assert.equal(
      await messages().countDocuments({ _id: { $in: flood as never[] } }),
      acceptedIds.length,
      'only accepted sends are stored',
    );
    await new Promise((r) => setTimeout(r, 1100));
    await stillServes(mallory);
    await Promise.all([mallory.close(), carol.close()]);
  });

  it('a bus message no handler can take (an ack whose ids are not a list) is dropped at once, not retried; the engine keeps serving', async () => {
    const conn = await amqp.connect(stack.env.amqpUrl);
    const ch = await conn.createConfirmChannel();
    // An ack whose ids are not a list: it used to throw in the handler on every attempt
    // until ENGINE_MAX_REDELIVERIES; now the schema check drops it before any handler.
    ch.publish(
      deliveryExchange(stack.amqpPrefix),
      ENGINE_ROUTING_KEY,
      Buffer.from(JSON.stringify({ op: 'ack', user: 'bob', ids: 5, gw: 'x', conn: 'x/1' })),
      { persistent: true },
    );
    await ch.waitForConfirms();
    await conn.close();
    await eventually(
      () => /invalid bus message dropped/.test(stack.logs()),
      'the poison message dropped',
      30_000,
    );
    const alice = await WsClient.connect(gw.wsUrl, await stack.token('alice'));
    const id = newMessageId();
    alice.send({ type: 'send', id, to: 'bob', kind: 'message', body: opaque() });
    await alice.waitFor((f) => f.type === 'accepted' && f.id === id);
    await alice.close();
  });

  it('relays ephemeral signals to an online contact without storing them; offline gets recipient_offline', async () => {
    const alice = await WsClient.connect(gw.wsUrl, await stack.token('alice'));
    const count0 = await messages().countDocuments({});
    alice.send({ type: 'signal', to: 'bob', signal: 'typing' });
    await alice.waitFor(isError('recipient_offline'));
    const bob = await WsClient.connect(gw.wsUrl, await stack.token('bob'));
    await new Promise((r) => setTimeout(r, 300));
    alice.send({ type: 'signal', to: 'bob', signal: 'call-ring', body: opaque() });
    const s = await bob.waitFor((f) => f.type === 'signal');
    assert.equal(s.type === 'signal' && s.from, 'alice');
    assert.equal(s.type === 'signal' && s.signal, 'call-ring');
    alice.send({ type: 'signal', to: 'carol', signal: 'typing' });
    await alice.waitFor(isError('not_contact'));
    assert.equal(await messages().countDocuments({}), count0, 'signals are never stored');
    await Promise.all([alice.close(), bob.close()]);
  });
});
