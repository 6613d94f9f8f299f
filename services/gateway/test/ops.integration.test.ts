/**
 * The gateway's ops listener (GATEWAY_OPS_PORT) as a real process: `/metrics` is served
 * there and not on the public port, which anyone who can reach the WebSocket endpoint can
 * reach; the probes answer on both (Kubernetes probes the ops port, a load balancer may
 * probe the public one).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Stack, type GatewayService } from './support/stack.js';
import { UpgradeRefused, WsClient } from './support/wsclient.js';

describe('gateway ops listener', () => {
  const stack = new Stack('gw-ops');
  let gw: GatewayService;

  before(async () => {
    gw = await stack.startGateway();
    await stack.createUsers('alice');
  });
  after(() => stack.close());

  test('the public port answers 404 for /metrics, with the JSON error body', async () => {
    assert.notEqual(gw.opsPort, gw.port);
    for (const path of ['/metrics', '/metrics?x=1', '/metrics/']) {
      const res = await fetch(`${gw.url}${path}`);
      assert.equal(res.status, 404, path);
      const body = (await res.json()) as { error?: { code?: string } };
      assert.equal(body.error?.code, 'not_found', path);
    }
  });

  test('the ops port serves /metrics with the live connection count', async () => {
    const c = await WsClient.connect(gw.wsUrl, await stack.token('alice'));
    await c.waitFor((f) => f.type === 'hello');
    const res = await fetch(`http://127.0.0.1:${gw.opsPort}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const line = (await res.text())
      .split('\n')
      .find((l) => /^gossip_gateway_connections[ {]/.test(l));
    assert.match(
      line ?? '(no gossip_gateway_connections series)',
      /^gossip_gateway_connections(\{[^}]*\})? 1$/,
    );
    await c.close();
  });

  test('both ports answer the probes; the ops port has no WebSocket endpoint', async () => {
    for (const base of [gw.url, `http://127.0.0.1:${gw.opsPort}`]) {
      assert.equal((await fetch(`${base}/healthz`)).status, 200, base);
      const ready = await fetch(`${base}/readyz`);
      assert.equal(ready.status, 200, base);
      assert.equal(((await ready.json()) as { status?: string }).status, 'ok', base);
    }
    await assert.rejects(
      WsClient.connect(`ws://127.0.0.1:${gw.opsPort}/ws`, await stack.token('alice')),
      (e: unknown) => e instanceof UpgradeRefused && e.status === 404,
    );
    assert.equal((await fetch(`http://127.0.0.1:${gw.opsPort}/ws`)).status, 404);
  });
});
