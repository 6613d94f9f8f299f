/**
 * Receipts in `pushes` (several live pushes in one bus message), end to end with real
 * processes: the gateway's presence claims carry `PRESENCE_PUSHES_MARK`, so the engine
 * sends the `delivered` receipts of a batch of acks to it in one `pushes` message, and the
 * gateway writes each receipt to the sender's connection as its own WebSocket message, as
 * it writes a single `push`. Counted on the gateway's `gossip_gateway_bus_messages_total`.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { newMessageId, PRESENCE_PUSHES_MARK, type DeliveredFrame } from '@gossip/protocol';
import { presenceKey } from '../src/presence.js';
import { eventually, Stack, type GatewayService } from './support/stack.js';
import { WsClient } from './support/wsclient.js';

/** One series of a metric on a service's /metrics (0 when absent). */
async function series(url: string, line: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const hit = text.split('\n').find((l) => l.startsWith(line));
  return hit ? Number(hit.slice(hit.lastIndexOf(' ') + 1)) : 0;
}

describe('receipts in pushes', () => {
  const stack = new Stack('pushes');
  let gw: GatewayService;

  before(async () => {
    await stack.startEngine();
    gw = await stack.startGateway();
    await stack.createUsers('alice', 'bob');
    await stack.makeContacts('alice', 'bob');
  });
  after(() => stack.close());

  it('30 acks in 30 frames: alice gets 30 delivered frames, each its own WebSocket message, from fewer bus messages, none a single push', async () => {
    const alice = await WsClient.connect(gw.wsUrl, await stack.token('alice'));
    const bob = await WsClient.connect(gw.wsUrl, await stack.token('bob'));
    await Promise.all([alice, bob].map((c) => c.waitFor((f) => f.type === 'replayed')));
    const claim = await stack.redis.hget(presenceKey(stack.redisPrefix, 'alice'), gw.instanceId);
    assert.ok(claim?.endsWith(PRESENCE_PUSHES_MARK), `alice's claim ${claim} has the mark`);
    assert.ok(Number(claim) > Date.now(), 'and still reads as a time');

    const ids = Array.from({ length: 30 }, () => newMessageId());
    for (const id of ids) {
      alice.send({
        type: 'send',
        id,
        to: 'bob',
        kind: 'message',
        body: randomBytes(24).toString('base64'),
      });
    }
    await eventually(
      () => ids.every((id) => bob.frames.some((f) => f.type === 'deliver' && f.id === id)),
      'bob got all 30',
    );
    const pushUrl = `gossip_gateway_bus_messages_total{`;
    const count = async (op: string): Promise<number> => {
      const text = await (await fetch(`${gw.metricsUrl}/metrics`)).text();
      let sum = 0;
      for (const l of text.split('\n')) {
        if (l.startsWith(pushUrl) && l.includes(`op="${op}"`)) {
          sum += Number(l.slice(l.lastIndexOf(' ') + 1));
        }
      }
      return sum;
    };
    const push0 = await count('push');
    const pushes0 = await count('pushes');
    const delivered0 = await series(
      gw.metricsUrl,
      'gossip_gateway_frames_pushed_total{type="delivered"',
    );
    // Each id its own frame, sent back to back: the engine groups those that arrive while
    // a batch is in the store.
    for (const id of ids) bob.send({ type: 'ack', ids: [id] });
    await eventually(
      () => ids.every((id) => alice.frames.some((f) => f.type === 'delivered' && f.id === id)),
      'alice got 30 receipts',
    );
    await eventually(
      async () => (await stack.db.collection('messages').countDocuments({})) === 0,
      'all 30 deleted',
    );
    const receipts = alice.frames.filter((f): f is DeliveredFrame => f.type === 'delivered');
    // One engine, no crash: exactly one receipt each, each from bob, each a WebSocket
    // message of its own (the test client parses every message as one frame).
    assert.deepEqual(receipts.map((r) => r.id).sort(), [...ids].sort());
    assert.ok(receipts.every((r) => r.to === 'bob'));
    const pushes = (await count('pushes')) - pushes0;
    assert.equal((await count('push')) - push0, 0, 'no receipt came as a single push');
    assert.ok(pushes >= 1 && pushes <= 30, `${pushes} pushes messages for 30 receipts`);
    assert.equal(
      (await series(gw.metricsUrl, 'gossip_gateway_frames_pushed_total{type="delivered"')) -
        delivered0,
      30,
    );
    await Promise.all([alice.close(), bob.close()]);
  });
});
