/**
 * `replayed` (issue 15 §1): after a connect the gateway holds live pushes for that
 * connection until the engine's replay is over, then sends `replayed` once and what it
 * held in (sentAt, id) order, without the ids the replay already sent. A silent replay is
 * given up on after GATEWAY_REPLAY_HOLD_MS and asked for again; one drain per connection
 * is in flight at a time. First with the engine played by the test on the real RabbitMQ
 * (so each step is exact), then with the real engine, a large backlog and live traffic.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import amqp from 'amqplib';
import {
  deliveryExchange,
  ENGINE_ROUTING_KEY,
  gatewayRoutingKey,
  newMessageId,
  type BusConnected,
  type DeliverFrame,
  type GatewayMessage,
  type SendFrame,
  type ServerFrame,
} from '@gossip/protocol';
import { presenceKey } from '../src/presence.js';
import { eventually, Stack, type GatewayService } from './support/stack.js';
import { WsClient } from './support/wsclient.js';

const deliver = (sentAt: number): DeliverFrame => ({
  type: 'deliver',
  id: newMessageId(),
  from: 'alice',
  sentAt,
  kind: 'message',
  body: randomBytes(8).toString('base64'),
});

/** A frame's short name for comparing sequences: its id, or its type. */
const nameOf = (f: ServerFrame): string =>
  f.type === 'deliver' ? f.id : f.type === 'signal' ? `signal:${f.signal}` : f.type;

describe('replayed, with the engine played by the test', () => {
  const stack = new Stack('replayed-bus');
  let amqpConn: amqp.ChannelModel;
  let ch: amqp.ConfirmChannel;
  const exchange = deliveryExchange(stack.amqpPrefix);
  /** Every `connected` the gateways published, in order. */
  const connecteds: BusConnected[] = [];

  const toGateway = async (gw: GatewayService, msgs: GatewayMessage[]): Promise<void> => {
    for (const m of msgs) {
      ch.publish(exchange, gatewayRoutingKey(gw.instanceId), Buffer.from(JSON.stringify(m)));
    }
    await ch.waitForConfirms();
  };
  /** Connects bob and waits for the replay the gateway asks for. */
  const connectBob = async (gw: GatewayService): Promise<{ bob: WsClient; conn: string }> => {
    const bob = await WsClient.connect(gw.wsUrl, await stack.token('bob'));
    await bob.waitFor((f) => f.type === 'hello');
    let conn = '';
    await eventually(async () => {
      const c = connecteds.find((m) => m.gw === gw.instanceId && m.user === 'bob');
      conn = c?.conn ?? '';
      return c !== undefined;
    }, 'the gateway asked for bob’s replay');
    return { bob, conn };
  };
  const connectedsOf = (conn: string): BusConnected[] => connecteds.filter((m) => m.conn === conn);

  before(async () => {
    await stack.createUsers('alice', 'bob');
    amqpConn = await amqp.connect(stack.env.amqpUrl);
    ch = await amqpConn.createConfirmChannel();
    await ch.assertExchange(exchange, 'topic', { durable: true });
    const q = await ch.assertQueue('', { exclusive: true, autoDelete: true });
    await ch.bindQueue(q.queue, exchange, ENGINE_ROUTING_KEY);
    await ch.consume(
      q.queue,
      (msg) => {
        if (!msg) return;
        const m = JSON.parse(msg.content.toString()) as { op: string };
        if (m.op === 'connected') connecteds.push(m as BusConnected);
      },
      { noAck: true },
    );
  });
  after(async () => {
    await amqpConn.close().catch(() => undefined);
    await stack.close();
  });

  it('holds live pushes until `replayed`, then sends it once and the held frames in (sentAt, id) order without the replay’s ids', async () => {
    const gw = await stack.startGateway({ GATEWAY_REPLAY_HOLD_MS: '60000' });
    const { bob, conn } = await connectBob(gw);
    const base = Date.now();
    const [r1, r2, l1, l3, l4] = [base - 5000, base - 4000, base - 3000, base + 60_000, base];
    const replayed1 = deliver(r1);
    const replayed2 = deliver(r2);
    const late = deliver(l3);
    const early = deliver(l1);
    // Live pushes (no `conn`) during the replay: out of order, one a copy of a replay frame.
    await toGateway(gw, [
      { op: 'push', to: 'bob', live: true, frame: late },
      { op: 'push', to: 'bob', live: true, frame: replayed2 },
      { op: 'push', to: 'bob', frame: { type: 'signal', from: 'alice', signal: 'typing' } },
      { op: 'push', to: 'bob', live: true, frame: early },
      { op: 'push', to: 'bob', conn, frame: replayed1 },
      { op: 'push', to: 'bob', conn, frame: replayed2 },
    ]);
    // One channel keeps order: the live pushes were handled before the replay's last frame.
    await bob.waitFor((f) => f.type === 'deliver' && f.id === replayed2.id);
    assert.deepEqual(bob.frames.map(nameOf), ['hello', replayed1.id, replayed2.id]);

    await toGateway(gw, [{ op: 'push', to: 'bob', conn, frame: { type: 'replayed' } }]);
    await bob.waitFor((f) => f.type === 'deliver' && f.id === late.id);
    assert.deepEqual(bob.frames.map(nameOf), [
      'hello',
      replayed1.id,
      replayed2.id,
      'replayed',
      early.id,
      'signal:typing',
      late.id,
    ]);

    // A second `replayed` (a redelivered `connected`) is not passed on; live pushes now go
    // straight through.
    const next = deliver(l4);
    await toGateway(gw, [
      { op: 'push', to: 'bob', conn, frame: { type: 'replayed' } },
      { op: 'push', to: 'bob', live: true, frame: next },
    ]);
    await bob.waitFor((f) => f.type === 'deliver' && f.id === next.id);
    assert.equal(bob.frames.filter((f) => f.type === 'replayed').length, 1);
    await bob.close();
    await gw.proc.stop();
  });

  it('gives up on a replay that goes silent: releases what it held, sends `replayed`, asks again', async () => {
    const gw = await stack.startGateway({ GATEWAY_REPLAY_HOLD_MS: '1500' });
    const { bob, conn } = await connectBob(gw);
    const first = deliver(Date.now() - 1000);
    const live = deliver(Date.now());
    await toGateway(gw, [
      { op: 'push', to: 'bob', conn, frame: first },
      { op: 'push', to: 'bob', live: true, frame: live },
    ]);
    // No `replayed`: the engine died half way.
    await bob.waitFor((f) => f.type === 'deliver' && f.id === live.id, 15_000, 'the held push');
    assert.deepEqual(bob.frames.map(nameOf), ['hello', first.id, 'replayed', live.id]);
    await eventually(
      async () => connectedsOf(conn).length === 2,
      'the replay asked for again (at least once)',
    );
    // The new replay sends the backlog again and ends; the client was told once already.
    const marker = deliver(Date.now());
    await toGateway(gw, [
      { op: 'push', to: 'bob', conn, frame: first },
      { op: 'push', to: 'bob', conn, frame: { type: 'replayed' } },
      { op: 'push', to: 'bob', live: true, frame: marker },
    ]);
    await bob.waitFor((f) => f.type === 'deliver' && f.id === marker.id);
    assert.deepEqual(bob.frames.map(nameOf), [
      'hello',
      first.id,
      'replayed',
      live.id,
      first.id,
      marker.id,
    ]);
    await bob.close();
    await gw.proc.stop();
  });

  it('asks for one drain per connection at a time: another is asked for only after `replayed`', async () => {
    // Presence heartbeat every second, so a lost claim is noticed quickly.
    const gw = await stack.startGateway({
      GATEWAY_REPLAY_HOLD_MS: '60000',
      GATEWAY_PRESENCE_TTL_SECONDS: '3',
    });
    const { bob, conn } = await connectBob(gw);
    // The claim vanishes (a Redis flush): the gateway wants a replay again for bob.
    await stack.redis.del(presenceKey(stack.redisPrefix, 'bob'));
    await eventually(
      async () => /presence was lost; re-announcing/.test(gw.proc.output()),
      'the gateway noticed the lost claim',
    );
    // Two heartbeats later there is still only the first drain in flight.
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(connectedsOf(conn).length, 1);
    await toGateway(gw, [{ op: 'push', to: 'bob', conn, frame: { type: 'replayed' } }]);
    await eventually(
      async () => connectedsOf(conn).length === 2,
      'the second drain asked for after the first ended',
    );
    await bob.waitFor((f) => f.type === 'replayed');
    await bob.close();
    await gw.proc.stop();
  });
  it('resumes a connection that fell behind from the first message it missed, not from the start', async () => {
    const gw = await stack.startGateway({
      GATEWAY_REPLAY_HOLD_MS: '60000',
      GATEWAY_HIGH_WATER_BYTES: String(256 << 10),
    });
    const { bob, conn } = await connectBob(gw);
    await toGateway(gw, [{ op: 'push', to: 'bob', conn, frame: { type: 'replayed' } }]);
    await bob.waitFor((f) => f.type === 'replayed');
    // bob stops reading: the kernel's buffers fill, then the gateway's, then it skips.
    const sock = (bob.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    sock.pause();
    const base = Date.now();
    const body = randomBytes(30_000).toString('base64');
    const sent: DeliverFrame[] = [];
    for (let i = 0; i < 400; i++) sent.push({ ...deliver(base + i), body });
    for (let i = 0; i < sent.length; i += 50) {
      await toGateway(
        gw,
        sent.slice(i, i + 50).map((frame) => ({ op: 'push', to: 'bob', live: true, frame })),
      );
    }
    sock.resume();
    const resume = await eventually(
      async () => connectedsOf(conn)[1],
      'the drain that resumes bob',
      30_000,
    );
    const from = resume.from;
    assert.ok(from !== undefined, 'a resume, not a replay from the start');
    const missed = sent.findIndex((f) => f.sentAt === from);
    assert.ok(missed > 0, `from one of the messages sent, not the first (${from - base})`);
    // bob gets exactly the messages before that one (written before the first skip), in order.
    const got = (): string[] => bob.frames.flatMap((f) => (f.type === 'deliver' ? [f.id] : []));
    const before = sent.slice(0, missed).map((f) => f.id);
    await eventually(async () => got().length >= before.length, 'the written messages read');
    assert.deepEqual(got(), before);
    await bob.close();
    await gw.proc.stop();
  });
});

describe('replayed, with the real engine', () => {
  const stack = new Stack('replayed-engine');
  after(() => stack.close());

  it('live messages sent during a large replay arrive after `replayed`, in order; nothing lost or repeated; `replayed` once', async () => {
    // Small pages make the replay long; a high rate limit lets alice send fast.
    await stack.startEngine({ ENGINE_REPLAY_BATCH: '20' });
    const gw = await stack.startGateway({
      GATEWAY_RATE_PER_SECOND: '10000',
      GATEWAY_RATE_BURST: '10000',
    });
    await stack.createUsers('alice', 'bob');
    await stack.makeContacts('alice', 'bob');
    const alice = await WsClient.connect(gw.wsUrl, await stack.token('alice'));
    await alice.waitFor((f) => f.type === 'hello');
    const body = randomBytes(16).toString('base64');
    /** Sends alice's next message to bob; returns its id. */
    const send = (): string => {
      const frame: SendFrame = {
        type: 'send',
        id: newMessageId(),
        to: 'bob',
        kind: 'message',
        body,
      };
      alice.send(frame);
      return frame.id;
    };
    const accepted = (ids: string[]): Promise<unknown> =>
      Promise.all(
        ids.map((id) => alice.waitFor((f) => f.type === 'accepted' && f.id === id, 60_000)),
      );
    // The offline backlog, in slices below the per-connection in-flight limit.
    const backlog: string[] = [];
    for (let i = 0; i < 4; i++) {
      const slice = Array.from({ length: 100 }, send);
      await accepted(slice);
      backlog.push(...slice);
    }
    const bob = await WsClient.connect(gw.wsUrl, await stack.token('bob'));
    await bob.waitFor((f) => f.type === 'hello');
    // Live messages while bob's replay runs.
    const live: string[] = [];
    for (let i = 0; i < 30; i++) {
      live.push(send());
      await new Promise((r) => setTimeout(r, 5));
    }
    await accepted(live);
    const all = new Set([...backlog, ...live]);
    await eventually(
      async () =>
        bob.frames.some((f) => f.type === 'replayed') &&
        bob.frames.filter((f) => f.type === 'deliver' && all.has(f.id)).length >= all.size,
      'every message delivered to bob, and `replayed`',
      60_000,
    );
    const frames = bob.frames.filter((f) => f.type === 'deliver' || f.type === 'replayed');
    const at = frames.findIndex((f) => f.type === 'replayed');
    assert.equal(frames.filter((f) => f.type === 'replayed').length, 1, '`replayed` once');
    const delivered = frames.filter((f): f is DeliverFrame => f.type === 'deliver');
    assert.deepEqual(
      new Set(delivered.map((f) => f.id)),
      all,
      'nothing lost, nothing else delivered',
    );
    assert.equal(delivered.length, all.size, 'no message delivered twice');
    const beforeReplayed = new Set(
      frames.slice(0, at).flatMap((f) => (f.type === 'deliver' ? [f.id] : [])),
    );
    for (const id of backlog)
      assert.ok(beforeReplayed.has(id), 'the backlog comes before `replayed`');
    // Every live message not read by the replay itself came after it, all in (sentAt, id) order.
    for (let i = 1; i < delivered.length; i++) {
      const [a, b] = [delivered[i - 1]!, delivered[i]!];
      assert.ok(
        a.sentAt < b.sentAt || (a.sentAt === b.sentAt && a.id < b.id),
        `in (sentAt, id) order at ${i}`,
      );
    }
    await Promise.all([alice.close(), bob.close()]);
  });
});
