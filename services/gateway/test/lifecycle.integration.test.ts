/**
 * Process life cycle and operations: SIGTERM drains a gateway (clients told to reconnect,
 * upgrades refused, readyz failing, exit after the grace period) and stops an engine
 * cleanly; the retention sweeper deletes and counts; a slow socket is not buffered for
 * without bound; health and metrics endpoints answer.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { newMessageId, type DrainFrame } from '@gossip/protocol';
import { eventually, metric } from './support/stack.js';
import { ReliableClient, UpgradeRefused, WsClient } from './support/wsclient.js';
import { stackPerTest } from './support/stacks.js';

describe('life cycle', () => {
  const newStack = stackPerTest();

  it('SIGTERM drains a gateway: drain frame, readyz 503, upgrades refused, exit 0 after the grace period; nothing lost', async () => {
    const stack = await newStack('drain');
    await stack.startEngine();
    const gw1 = await stack.startGateway({
      GATEWAY_DRAIN_GRACE_MS: '1500',
      GATEWAY_DRAIN_RECONNECT_MS: '250',
    });
    const gw2 = await stack.startGateway();
    assert.equal(await metric(gw1.metricsUrl, 'gossip_gateway_connections'), 0);
    const watcher = await WsClient.connect(gw1.wsUrl, await stack.token('alice'));
    assert.equal(await metric(gw1.metricsUrl, 'gossip_gateway_connections'), 1);
    const bob = new ReliableClient({
      urls: () => [gw1.wsUrl, gw2.wsUrl],
      token: () => stack.token('bob'),
    });
    await bob.start();

    const exit = gw1.proc.stop(10_000);
    const drain = await watcher.waitFor<DrainFrame>((f) => f.type === 'drain');
    assert.equal(drain.reconnectAfterMs, 250);
    const ready = await fetch(`${gw1.url}/readyz`);
    assert.equal(ready.status, 503);
    await assert.rejects(
      WsClient.connect(gw1.wsUrl, await stack.token('alice')),
      (err: unknown) => err instanceof UpgradeRefused && err.status === 503,
    );
    // The watcher ignores the drain: it is closed when the grace period ends.
    const closed = await watcher.closed;
    assert.equal(closed.code, 1001);
    assert.equal(await exit, 0);

    // bob followed the drain to the other gateway and still receives.
    const alice = await WsClient.connect(gw2.wsUrl, await stack.token('alice'));
    const id = newMessageId();
    alice.send({ type: 'send', id, to: 'bob', kind: 'message', body: 'AAAA' });
    await eventually(() => bob.seen.has(id), 'delivery after the drain');
    assert.ok(bob.connects >= 2);
    await Promise.all([bob.stop(), alice.close()]);
  });

  it('SIGTERM stops an engine cleanly (exit 0) and a new engine carries on', async () => {
    const stack = await newStack('estop');
    const e1 = await stack.startEngine();
    const gw = await stack.startGateway();
    const alice = await WsClient.connect(gw.wsUrl, await stack.token('alice'));
    const ids = Array.from({ length: 20 }, () => newMessageId());
    for (const id of ids) alice.sendMessage('bob', 'AAAA', 'message', id);
    assert.equal(await e1.proc.stop(15_000), 0);
    assert.match(e1.proc.output(), /shutdown complete/);
    await stack.startEngine({}, 'engine-2');
    // Anything not accepted before the stop is resent, as a client does.
    await eventually(
      () => {
        for (const id of ids) {
          if (!alice.frames.some((f) => f.type === 'accepted' && f.id === id)) {
            alice.send({ type: 'send', id, to: 'bob', kind: 'message', body: 'AAAA' });
          }
        }
        return ids.every((id) => alice.frames.some((f) => f.type === 'accepted' && f.id === id));
      },
      'all accepted',
      20_000,
    );
    assert.equal(
      await stack.db.collection('messages').countDocuments({ _id: { $in: ids as never[] } }),
      20,
    );
    await alice.close();
  });

  it('expires undelivered messages past retention and counts them', async () => {
    const stack = await newStack('expire');
    const engine = await stack.startEngine({
      ENGINE_RETENTION_SECONDS: '2',
      ENGINE_SWEEP_INTERVAL_SECONDS: '1',
      ENGINE_STATS_INTERVAL_MS: '200',
    });
    const gw = await stack.startGateway();
    const alice = await WsClient.connect(gw.wsUrl, await stack.token('alice'));
    const ids = Array.from({ length: 7 }, () => newMessageId());
    for (const id of ids) alice.sendMessage('bob', 'AAAA', 'message', id);
    await eventually(
      () => ids.every((id) => alice.frames.some((f) => f.type === 'accepted' && f.id === id)),
      'accepted',
    );
    await eventually(
      async () => (await metric(engine.url, 'gossip_engine_pending_messages')) === 7,
      'the backlog gauge',
    );
    assert.ok((await metric(engine.url, 'gossip_engine_oldest_pending_age_seconds')) >= 0);
    await eventually(
      async () => (await metric(engine.url, 'gossip_engine_messages_expired_total')) === 7,
      'the expired counter',
    );
    assert.equal(
      await stack.db.collection('messages').countDocuments({ _id: { $in: ids as never[] } }),
      0,
    );
    await alice.close();
  });

  it('does not buffer without bound for a socket that stops reading: skips or closes it, and nothing is lost', async () => {
    const stack = await newStack('slow');
    await stack.startEngine({ ENGINE_REDELIVERY_SECONDS: '5' });
    const gw = await stack.startGateway({
      GATEWAY_HIGH_WATER_BYTES: String(1 << 20),
      GATEWAY_MAX_BUFFERED_BYTES: String(4 << 20),
      GATEWAY_RATE_PER_SECOND: '1000',
      GATEWAY_RATE_BURST: '1000',
    });
    const bob = new ReliableClient({ urls: () => [gw.wsUrl], token: () => stack.token('bob') });
    await bob.start();
    // bob's app stops reading: the kernel buffers fill, then the gateway's.
    const sock = (bob.client!.ws as unknown as { _socket: { pause(): void; resume(): void } })
      ._socket;
    sock.pause();
    const alice = new ReliableClient({
      urls: () => [gw.wsUrl],
      token: () => stack.token('alice'),
    });
    await alice.start();
    const ids: string[] = [];
    for (let i = 0; i < 300; i++) {
      ids.push(alice.sendMessage('bob', randomBytes(45_000).toString('base64')));
      if (i % 20 === 0) await new Promise((r) => setTimeout(r, 20));
    }
    await eventually(() => alice.outbox.size === 0, 'all accepted', 60_000);
    await eventually(
      async () =>
        (await metric(gw.metricsUrl, 'gossip_gateway_backpressure_skipped_total')) +
          (await metric(gw.metricsUrl, 'gossip_gateway_slow_closed_total')) >
        0,
      'the gateway to push back',
      30_000,
    );
    sock.resume();
    const progress = setInterval(() => {
      void metric(gw.metricsUrl, 'gossip_gateway_backpressure_skipped_total').then((skipped) =>
        console.log('slow reader progress', {
          seen: bob.seen.size,
          wire: bob.wireDeliveries,
          skipped,
          connects: bob.connects,
        }),
      );
    }, 5000);
    await eventually(
      () => ids.every((id) => bob.seen.has(id)),
      'every message after all',
      90_000,
    ).finally(() => clearInterval(progress));
    assert.equal(bob.shown.length, ids.length);
    await Promise.all([alice.stop(), bob.stop()]);
  });
});
