/**
 * Connection caps at the upgrade (issue 13 §3): per user, per client address (behind a
 * trusted proxy, the forwarded one) and a connect rate per address; an over-cap upgrade is
 * answered HTTP 429 before any WebSocket opens. The connection gauge the autoscaler reads
 * counts authenticated connections only. Real gateway, engine, RabbitMQ and Redis.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { eventually, metric, Stack } from './support/stack.js';
import { UpgradeRefused, WsClient } from './support/wsclient.js';

const refusedWith = (status: number) => (err: unknown) =>
  err instanceof UpgradeRefused && err.status === status;

describe('connection caps', () => {
  const stack = new Stack('caps');
  const open: WsClient[] = [];
  after(async () => {
    await Promise.allSettled(open.map((c) => c.close()));
    await stack.close();
  });

  it('a user over the per-user cap gets 429 before the upgrade; others are unaffected', async () => {
    await stack.createUsers('alice', 'bob', 'carol');
    await stack.startEngine();
    const gw = await stack.startGateway({ GATEWAY_MAX_CONNS_PER_USER: '3' });
    for (let i = 0; i < 3; i++)
      open.push(await WsClient.connect(gw.wsUrl, await stack.token('alice')));
    await assert.rejects(
      WsClient.connect(gw.wsUrl, await stack.token('alice')),
      (err: unknown) => refusedWith(429)(err) && /rate_limited/.test((err as UpgradeRefused).body),
    );
    open.push(await WsClient.connect(gw.wsUrl, await stack.token('bob')));
    // A closed connection frees its place.
    await open.shift()!.close();
    open.push(await WsClient.connect(gw.wsUrl, await stack.token('alice')));
    assert.equal(
      await metric(gw.metricsUrl, 'gossip_gateway_upgrades_rejected_total', 'user_cap'),
      1,
    );
    // The autoscaler's gauge: the four open, authenticated connections, not the refused one.
    assert.equal(await metric(gw.metricsUrl, 'gossip_gateway_connections'), 4);
  });

  it('an address over its open-connection cap gets 429, across users', async () => {
    const gw = await stack.startGateway({ GATEWAY_MAX_CONNS_PER_ADDRESS: '2' });
    const a = await WsClient.connect(gw.wsUrl, await stack.token('alice'));
    const b = await WsClient.connect(gw.wsUrl, await stack.token('bob'));
    open.push(a, b);
    await assert.rejects(WsClient.connect(gw.wsUrl, await stack.token('carol')), refusedWith(429));
    assert.equal(
      await metric(gw.metricsUrl, 'gossip_gateway_upgrades_rejected_total', 'address_cap'),
      1,
    );
    await a.close();
    open.push(await WsClient.connect(gw.wsUrl, await stack.token('carol')));
  });

  it('the connect rate counts every attempt, failed ones too, before the token is checked', async () => {
    const gw = await stack.startGateway({
      GATEWAY_CONNECT_RATE_PER_ADDRESS: '3',
      GATEWAY_CONNECT_RATE_WINDOW_SECONDS: '600',
    });
    for (let i = 0; i < 3; i++) {
      await assert.rejects(WsClient.connect(gw.wsUrl, 'not-a-token'), refusedWith(401));
    }
    // Even a valid token is refused now: the address used up its attempts.
    await assert.rejects(WsClient.connect(gw.wsUrl, await stack.token('alice')), refusedWith(429));
    assert.equal(
      await metric(gw.metricsUrl, 'gossip_gateway_upgrades_rejected_total', 'connect_rate'),
      1,
    );
    assert.equal(await metric(gw.metricsUrl, 'gossip_gateway_connections'), 0);
  });

  it('behind a trusted proxy the cap is per forwarded client address', async () => {
    const gw = await stack.startGateway({
      GATEWAY_TRUST_PROXY: '127.0.0.1',
      GATEWAY_MAX_CONNS_PER_ADDRESS: '1',
    });
    const from = (address: string) => ({ headers: { 'x-forwarded-for': address } });
    open.push(await WsClient.connect(gw.wsUrl, await stack.token('alice'), from('198.51.100.1')));
    open.push(await WsClient.connect(gw.wsUrl, await stack.token('bob'), from('198.51.100.2')));
    await assert.rejects(
      WsClient.connect(gw.wsUrl, await stack.token('carol'), from('198.51.100.1')),
      refusedWith(429),
    );
  });

  it('sockets that have not finished an authenticated upgrade are not counted as connections', async () => {
    const gw = await stack.startGateway();
    const live = await WsClient.connect(gw.wsUrl, await stack.token('alice'));
    open.push(live);
    // A half-sent upgrade request, and refused upgrades.
    const raw = connect(gw.port, '127.0.0.1');
    await new Promise<void>((resolve) => raw.once('connect', () => resolve()));
    raw.write('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n');
    await assert.rejects(WsClient.connect(gw.wsUrl, undefined), refusedWith(401));
    await assert.rejects(WsClient.connect(gw.wsUrl, 'forged'), refusedWith(401));
    assert.equal(await metric(gw.metricsUrl, 'gossip_gateway_connections'), 1);
    raw.destroy();
  });

  it('the per-user cap counts the user’s connections on every gateway, not on each', async () => {
    const shared = new Stack('capsmulti');
    try {
      await shared.createUsers('dora');
      await shared.startEngine();
      const one = await shared.startGateway({ GATEWAY_MAX_CONNS_PER_USER: '2' });
      const two = await shared.startGateway({ GATEWAY_MAX_CONNS_PER_USER: '2' });
      const a = await WsClient.connect(one.wsUrl, await shared.token('dora'));
      const b = await WsClient.connect(two.wsUrl, await shared.token('dora'));
      await assert.rejects(
        WsClient.connect(one.wsUrl, await shared.token('dora')),
        refusedWith(429),
      );
      await assert.rejects(
        WsClient.connect(two.wsUrl, await shared.token('dora')),
        refusedWith(429),
      );
      // A closed connection frees its place on the other gateway too.
      await a.close();
      await eventually(async () => {
        try {
          const c = await WsClient.connect(two.wsUrl, await shared.token('dora'));
          await c.close();
          return true;
        } catch (err) {
          if (refusedWith(429)(err)) return false;
          throw err;
        }
      }, 'a freed place');
      await b.close();
    } finally {
      await shared.close();
    }
  });
});
