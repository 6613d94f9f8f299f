/**
 * The engine's ops port (/healthz, /readyz, /metrics: servicekit's createOpsServer) as a
 * real process: its readiness checks and metrics, and the malformed-input corpus of
 * @gossip/testenv: every case ends in a 4xx or a closed socket, and the engine still
 * answers `/healthz` afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { casesFor, checkCase, type Listener } from '@gossip/testenv';
// The delivery services' test stack lives with the gateway's tests; the engine reuses it.
import { Stack, type Service } from '../../gateway/test/support/stack.js';

describe('engine ops port: malformed input', () => {
  const stack = new Stack('engine-malformed');
  let engine: Service;
  let listener: Listener;
  let exitCode: number | string | undefined;

  before(async () => {
    engine = await stack.startEngine({
      ENGINE_HTTP_HEADERS_TIMEOUT_MS: '500',
      ENGINE_HTTP_REQUEST_TIMEOUT_MS: '1000',
    });
    void engine.proc.exited.then((code) => (exitCode = code));
    listener = { host: '127.0.0.1', port: engine.port, healthPath: '/healthz', probePath: '/nope' };
  });
  after(() => stack.close());

  test('/readyz names each store and the consumer, all ok', async () => {
    const res = await fetch(`${engine.url}/readyz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      status: 'ok',
      checks: { mongo: 'ok', redis: 'ok', amqp: 'ok', consuming: 'ok' },
    });
  });

  test('/metrics serves the engine registry; /healthz is ok', async () => {
    const res = await fetch(`${engine.metricsUrl}/metrics`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^gossip_engine_bus_messages_total/m);
    assert.deepEqual(await (await fetch(`${engine.url}/healthz`)).json(), { status: 'ok' });
  });

  for (const c of casesFor({})) {
    test(`refuses ${c.name} and keeps serving`, async () => {
      await checkCase(listener, c);
      assert.equal(exitCode, undefined, `the engine exited: ${engine.proc.output().slice(-2000)}`);
    });
  }
});
