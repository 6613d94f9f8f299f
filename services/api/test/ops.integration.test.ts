/**
 * The ops listener against real FerretDB and Redis (buildApp, no sockets): `/metrics` and
 * `/docs` answer there and 404 on the public app; `API_DOCS=false` turns `/docs` off.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startApi } from './helpers.js';

type Api = Awaited<ReturnType<typeof startApi>>;

describe('api ops listener', () => {
  let api: Api;
  let noDocs: Api;
  before(async () => {
    api = await startApi();
    noDocs = await startApi({ API_DOCS: 'false' });
  });
  after(async () => {
    await api.close();
    await noDocs.close();
  });

  test('the public app answers 404 for /metrics and /docs; the ops app serves them', async () => {
    for (const url of ['/metrics', '/docs', '/docs/json']) {
      const res = await api.app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 404, url);
      assert.equal(res.json<{ error: { code: string } }>().error.code, 'not_found');
    }
    const metrics = await api.app.ops.inject({ method: 'GET', url: '/metrics' });
    assert.equal(metrics.statusCode, 200);
    assert.match(metrics.body, /^gossip_process_cpu_user_seconds_total/m);
    const spec = await api.app.ops.inject({ method: 'GET', url: '/docs/json' });
    assert.equal(spec.statusCode, 200);
    const doc = spec.json<{ openapi: string; paths: Record<string, unknown> }>();
    assert.match(doc.openapi, /^3\./);
    assert.ok(doc.paths['/v1/auth/register'], 'the public routes are described');
  });

  test('health answers on both listeners', async () => {
    for (const app of [api.app, api.app.ops]) {
      assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
      assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
    }
  });

  test('API_DOCS=false: no /docs anywhere, /metrics still on the ops app', async () => {
    for (const app of [noDocs.app, noDocs.app.ops]) {
      for (const url of ['/docs', '/docs/json']) {
        assert.equal((await app.inject({ method: 'GET', url })).statusCode, 404, url);
      }
    }
    assert.equal((await noDocs.app.ops.inject({ method: 'GET', url: '/metrics' })).statusCode, 200);
  });
});
