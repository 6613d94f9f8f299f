/**
 * The operator's ops port (`/metrics`, `/healthz`, `/readyz`) against the malformed-input
 * corpus of @gossip/testenv: every case ends in a 4xx or a closed socket, and the server
 * still answers `/healthz` afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import type { OpsServer } from '@gossip/servicekit';
import { assertServing, casesFor, checkCase, exchange, type Listener } from '@gossip/testenv';
import { operatorOps } from '../src/ops.js';

describe('operator ops port: malformed input', () => {
  let server: OpsServer;
  let listener: Listener;
  let controllers: () => string = () => 'ok';

  before(async () => {
    // Short timeouts so the slow-client cases end quickly; the cases do not measure them.
    server = operatorOps(new Registry(), () => controllers(), {
      timeouts: { headersTimeoutMs: 500, requestTimeoutMs: 1000 },
    });
    const port = await server.start(0, '127.0.0.1');
    listener = { host: '127.0.0.1', port, healthPath: '/healthz', probePath: '/nope' };
  });
  after(() => server.stop());

  for (const c of casesFor({})) {
    test(`refuses ${c.name} and keeps serving`, () => checkCase(listener, c));
  }

  test('a readiness check that throws is answered 500 and the server keeps serving', async () => {
    controllers = () => {
      throw new Error('boom');
    };
    try {
      const x = await exchange(
        listener,
        Buffer.from('GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
      );
      assert.equal(x.status, 500, x.head);
    } finally {
      controllers = () => 'ok';
    }
    await assertServing(listener);
  });

  test('/readyz is 503 naming the controllers check until it is ok', async () => {
    controllers = () => 'informer caches not synced';
    try {
      const res = await fetch(`http://127.0.0.1:${listener.port}/readyz`);
      assert.equal(res.status, 503);
      assert.deepEqual(await res.json(), {
        status: 'unavailable',
        checks: { controllers: 'informer caches not synced' },
      });
    } finally {
      controllers = () => 'ok';
    }
    assert.equal((await fetch(`http://127.0.0.1:${listener.port}/readyz`)).status, 200);
  });
});
