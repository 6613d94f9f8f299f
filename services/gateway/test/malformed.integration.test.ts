/**
 * The gateway's two HTTP listeners as a real process, the public one (the WebSocket
 * upgrade at /ws, /healthz, /readyz) and the ops one (/metrics, /healthz, /readyz), against
 * the malformed-input corpus of @gossip/testenv: every case ends in a 4xx or a closed
 * socket, and the gateway still answers `/healthz` and still accepts a real client afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WS_PATH } from '@gossip/protocol';
import { casesFor, checkCase, exchange, type Listener } from '@gossip/testenv';
import { Stack, type GatewayService } from './support/stack.js';
import { WsClient } from './support/wsclient.js';

describe('gateway process: malformed input', () => {
  const stack = new Stack('gw-malformed');
  let gw: GatewayService;
  let listener: Listener;
  /** The ops listener (/metrics, /healthz, /readyz) of the same process. */
  let ops: Listener;
  let exitCode: number | string | undefined;

  before(async () => {
    gw = await stack.startGateway({
      // Short, so the slow-client cases end soon; the cases do not measure them.
      GATEWAY_HTTP_HEADERS_TIMEOUT_MS: '500',
      GATEWAY_HTTP_REQUEST_TIMEOUT_MS: '1000',
    });
    void gw.proc.exited.then((code) => (exitCode = code));
    await stack.createUsers('alice');
    listener = {
      host: '127.0.0.1',
      port: gw.port,
      healthPath: '/healthz',
      probePath: '/nope',
      upgradePath: WS_PATH,
    };
    ops = { host: '127.0.0.1', port: gw.opsPort, healthPath: '/healthz', probePath: '/nope' };
  });
  after(() => stack.close());

  for (const c of casesFor({ upgrade: true })) {
    test(`refuses ${c.name} and keeps serving`, async () => {
      await checkCase(listener, c);
      assert.equal(exitCode, undefined, `the gateway exited: ${gw.proc.output().slice(-2000)}`);
    });
  }

  for (const c of casesFor({})) {
    test(`ops listener: refuses ${c.name} and keeps serving`, async () => {
      await checkCase(ops, c);
      assert.equal(exitCode, undefined, `the gateway exited: ${gw.proc.output().slice(-2000)}`);
    });
  }

  test('an upgrade that never finishes its headers is closed by the gateway', async () => {
    const x = await exchange(
      listener,
      Buffer.from(`GET ${WS_PATH} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nX-Slow: 1`),
    );
    assert.equal(x.closed, true);
    assert.ok(x.status === undefined || x.status === 408, x.head);
  });

  test('after the corpus a real client still connects and is served', async () => {
    const c = await WsClient.connect(gw.wsUrl, await stack.token('alice'));
    await c.waitFor((f) => f.type === 'hello');
    const ts = Date.now();
    c.send({ type: 'ping', ts });
    await c.waitFor((f) => f.type === 'pong' && f.ts === ts);
    await c.close();
  });
});
