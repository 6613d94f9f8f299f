/**
 * Bus messages that do not match the protocol's schemas (packages/protocol/src/bus.ts),
 * published to the real RabbitMQ queues of a running engine and gateway (and to the api's
 * Redis events channel the gateway reads): each is counted
 * in `gossip_*_bus_invalid_total` and dropped (acked), no consumer crashes or wedges, and
 * a valid message published after them is still handled.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import amqp from 'amqplib';
import {
  deliveryExchange,
  ENGINE_ROUTING_KEY,
  engineQueue,
  EVENTS_CHANNEL,
  gatewayRoutingKey,
  newMessageId,
} from '@gossip/protocol';
import { eventually, Stack, type GatewayService, type Service } from './support/stack.js';
import { WsClient } from './support/wsclient.js';

/** The sum of a metric's series on a service's /metrics. */
async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return sum;
}

/** Malformed bodies both consumers must survive (each a separate bus message). */
const GARBAGE: (string | Buffer)[] = [
  'not json',
  Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
  'null',
  '[]',
  '{"op":42}',
  '{"op":"nope","user":"bob"}',
  '{"op":"__proto__"}',
];

describe('bus message validation', () => {
  const stack = new Stack('bus-invalid');
  let engine: Service;
  let gw: GatewayService;
  let conn: amqp.ChannelModel;
  let ch: amqp.ConfirmChannel;

  const publish = async (key: string, bodies: (string | Buffer | object)[]): Promise<void> => {
    for (const b of bodies) {
      const bytes = Buffer.isBuffer(b)
        ? b
        : Buffer.from(typeof b === 'string' ? b : JSON.stringify(b));
      ch.publish(deliveryExchange(stack.amqpPrefix), key, bytes, { persistent: true });
    }
    await ch.waitForConfirms();
  };

  before(async () => {
    engine = await stack.startEngine();
    gw = await stack.startGateway();
    await stack.createUsers('alice', 'bob');
    await stack.makeContacts('alice', 'bob');
    conn = await amqp.connect(stack.env.amqpUrl);
    ch = await conn.createConfirmChannel();
  });
  after(async () => {
    await conn.close().catch(() => undefined);
    await stack.close();
  });

  it('the engine counts and drops malformed messages and unknown ops, then handles a valid send', async () => {
    const bad = [
      ...GARBAGE,
      // Known ops with fields missing or of the wrong type.
      { op: 'send' },
      { op: 'send', id: newMessageId(), from: 'alice', to: 'bob', kind: 'message', body: 5 },
      { op: 'ack', user: 'bob', ids: 'x', gw: 'gw', conn: 'gw/1' },
      { op: 'connected', user: null, gw: 'gw', conn: 'gw/1' },
      { op: 'signal', from: 'alice', to: 'bob', signal: 'rm -rf', gw: 'gw', conn: 'gw/1' },
    ];
    const before = await metric(engine.url, 'gossip_engine_bus_invalid_total');
    await publish(ENGINE_ROUTING_KEY, bad);
    await eventually(
      async () =>
        (await metric(engine.url, 'gossip_engine_bus_invalid_total')) - before === bad.length,
      'every malformed engine message counted',
    );
    // Dropped means acked: nothing is left on (or redelivered from) the engine queue.
    await eventually(
      async () => (await ch.checkQueue(engineQueue(stack.amqpPrefix))).messageCount === 0,
      'the engine queue drained',
    );
    const alice = await WsClient.connect(gw.wsUrl, await stack.token('alice'));
    const bob = await WsClient.connect(gw.wsUrl, await stack.token('bob'));
    const id = alice.sendMessage('bob', randomBytes(16).toString('base64'));
    await alice.waitFor((f) => f.type === 'accepted' && f.id === id, 15_000, 'accepted');
    await bob.waitFor((f) => f.type === 'deliver' && f.id === id, 15_000, 'deliver');
    assert.equal(await stack.db.collection('messages').countDocuments({}), 1);
    assert.match(engine.proc.output(), /invalid bus message dropped/);
    // Acked, so bob's later connections get no replay of it.
    bob.send({ type: 'ack', ids: [id] });
    await eventually(
      async () => (await stack.db.collection('messages').countDocuments({})) === 0,
      'the message deleted on ack',
    );
    await Promise.all([alice.close(), bob.close()]);
  });

  it('the gateway counts and drops malformed messages, never pushes an invalid frame, then handles a valid push', async () => {
    const bob = await WsClient.connect(gw.wsUrl, await stack.token('bob'));
    await bob.waitFor((f) => f.type === 'hello');
    const bogusId = 'not-a-message-id';
    const bad = [
      ...GARBAGE,
      { op: 'push', to: 'bob', frame: null },
      // A push whose frame is not a valid server frame must never reach the client.
      { op: 'push', to: 'bob', frame: { type: 'deliver', id: bogusId, from: 'alice' } },
      { op: 'push', to: 'bob', frame: { type: 'hello', version: 1, username: 'mallory' } },
      { op: 'stored', conn: 5, id: newMessageId() },
      { op: 'error', conn: 'x/1', code: 'no_such_code' },
    ];
    const before = await metric(gw.metricsUrl, 'gossip_gateway_bus_invalid_total');
    await publish(gatewayRoutingKey(gw.instanceId), bad);
    // One channel keeps order: once this arrives, every message before it was consumed.
    await publish(gatewayRoutingKey(gw.instanceId), [
      { op: 'push', to: 'bob', frame: { type: 'signal', from: 'alice', signal: 'typing' } },
    ]);
    await bob.waitFor((f) => f.type === 'signal' && f.from === 'alice', 15_000, 'the valid push');
    assert.equal(
      (await metric(gw.metricsUrl, 'gossip_gateway_bus_invalid_total')) - before,
      bad.length,
    );
    // `replayed`: bob's (empty) replay ended; the live signal was held back until then.
    assert.deepEqual(
      bob.frames.map((f) => f.type),
      ['hello', 'replayed', 'signal'],
      'only the valid push reached the client',
    );
    const ts = Date.now();
    bob.send({ type: 'ping', ts });
    await bob.waitFor((f) => f.type === 'pong' && f.ts === ts);
    await bob.close();
  });

  it('the gateway drops malformed contact events from the api’s Redis channel and pushes a valid one', async () => {
    const bob = await WsClient.connect(gw.wsUrl, await stack.token('bob'));
    await bob.waitFor((f) => f.type === 'hello');
    const channel = `${stack.redisPrefix}${EVENTS_CHANNEL}`;
    const bad = [
      ...GARBAGE.map((g) => (Buffer.isBuffer(g) ? g : Buffer.from(g))),
      Buffer.from(JSON.stringify({ to: 'bob', frame: null })),
      // Type `contact` but not a contact frame: it used to be pushed as it was.
      Buffer.from(JSON.stringify({ to: 'bob', frame: { type: 'contact', id: 'x', evil: 1 } })),
      Buffer.from(JSON.stringify({ to: 'Not A User', frame: { type: 'contact' } })),
    ];
    const before = await metric(gw.metricsUrl, 'gossip_gateway_bus_invalid_total');
    for (const b of bad) await stack.redis.publish(channel, b);
    const valid = { type: 'contact', id: newMessageId(), event: 'request', from: 'alice', at: 1 };
    await stack.redis.publish(channel, JSON.stringify({ to: 'bob', frame: valid }));
    await bob.waitFor((f) => f.type === 'contact', 15_000, 'the valid contact event');
    assert.equal(
      (await metric(gw.metricsUrl, 'gossip_gateway_bus_invalid_total')) - before,
      bad.length,
    );
    assert.deepEqual(
      bob.frames.filter((f) => f.type === 'contact'),
      [valid],
      'only the valid contact event reached the client',
    );
    await bob.close();
  });
});
