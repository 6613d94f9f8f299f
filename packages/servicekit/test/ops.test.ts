/**
 * The shared ops listener on a real socket: the probes, `/metrics`, 404, a failing check
 * answering 500 without ending the process, and the malformed-input corpus of
 * @gossip/testenv (every case a 4xx or a closed socket, still serving afterwards).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Counter } from 'prom-client';
import { casesFor, checkCase, type Listener } from '@gossip/testenv';
import { createMetricsRegistry, createOpsServer, type OpsServer } from '../src/index.js';

describe('createOpsServer', () => {
  let ops: OpsServer;
  let port = 0;
  let checks: Record<string, string> = { store: 'ok' };
  let failChecks = false;
  const errors: unknown[] = [];
  const registry = createMetricsRegistry({ defaultMetrics: false });
  new Counter({ name: 'gossip_ops_test_total', help: 'a test series', registers: [registry] });

  before(async () => {
    ops = createOpsServer({
      registry,
      checks: () => {
        if (failChecks) throw new Error('check exploded');
        return checks;
      },
      timeouts: { headersTimeoutMs: 500, requestTimeoutMs: 1000 },
      log: { error: (obj: object) => void errors.push(obj) },
    });
    port = await ops.start(0, '127.0.0.1');
  });
  after(() => ops.stop());

  const get = (path: string): Promise<Response> => fetch(`http://127.0.0.1:${port}${path}`);

  test('start resolves with the bound port, also read from .port', () => {
    assert.ok(port > 0);
    assert.equal(ops.port, port);
  });

  test('/healthz answers 200 ok', async () => {
    const res = await get('/healthz?x=1');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok' });
  });

  test('/readyz is 200 when every check is ok, 503 naming the failing one otherwise', async () => {
    checks = { store: 'ok', bus: 'ok' };
    let res = await get('/readyz');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok', checks: { store: 'ok', bus: 'ok' } });
    checks = { store: 'ok', bus: 'down' };
    res = await get('/readyz');
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), {
      status: 'unavailable',
      checks: { store: 'ok', bus: 'down' },
    });
    checks = { store: 'ok' };
  });

  test('/metrics serves the registry in its content type', async () => {
    const res = await get('/metrics');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), registry.contentType);
    assert.match(await res.text(), /^gossip_ops_test_total 0$/m);
  });

  test('any other path is a JSON 404', async () => {
    const res = await get('/nope');
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'not_found');
  });

  test('a check that throws answers 500 and the listener keeps serving', async () => {
    failChecks = true;
    const res = await get('/readyz');
    failChecks = false;
    assert.equal(res.status, 500);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'internal');
    assert.equal(errors.length, 1);
    assert.equal((await get('/healthz')).status, 200);
  });

  describe('malformed input', () => {
    for (const c of casesFor({})) {
      test(`refuses ${c.name} and keeps serving`, async () => {
        const l: Listener = { host: '127.0.0.1', port, healthPath: '/healthz', probePath: '/nope' };
        await checkCase(l, c);
      });
    }
  });

  test('stop closes the listener; a second stop is a no-op', async () => {
    const other = createOpsServer({ registry, checks: () => ({}) });
    const p = await other.start(0, '127.0.0.1');
    assert.equal((await fetch(`http://127.0.0.1:${p}/healthz`)).status, 200);
    await other.stop();
    await other.stop();
    await assert.rejects(fetch(`http://127.0.0.1:${p}/healthz`));
  });
});
