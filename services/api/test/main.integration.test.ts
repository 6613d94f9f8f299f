/**
 * The api as a real process (src/main.ts): config from the environment, readiness
 * against real FerretDB and Redis, metrics, OpenAPI, a graceful SIGTERM, clear config
 * errors, and logs without secrets.
 */
import assert from 'node:assert/strict';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { Session } from '@gossip/protocol';
import { freePort, startProcess, type ManagedProcess } from '@gossip/testenv';
import { PASSWORD, apiEnv, dropApiDatabase, keySets } from './helpers.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const MAIN = join(repoRoot, 'services/api/src/main.ts');

function runApi(env: Record<string, string>, readyPath: string | null = '/readyz') {
  return startProcess({
    command: process.execPath,
    args: ['--import', 'tsx', MAIN],
    cwd: repoRoot,
    cleanEnv: true,
    env,
    ...(readyPath ? { readyUrl: `http://127.0.0.1:${env.API_PORT}${readyPath}` } : {}),
    readyTimeoutMs: 30_000,
  });
}

describe('api process', () => {
  let proc: ManagedProcess;
  let base: string;
  let ops: string;
  let env: Record<string, string>;

  before(async () => {
    const port = await freePort();
    const opsPort = await freePort();
    env = apiEnv({
      API_PORT: String(port),
      API_HOST: '127.0.0.1',
      API_OPS_PORT: String(opsPort),
      API_OPS_HOST: '127.0.0.1',
      API_LOG_LEVEL: 'info',
    });
    base = `http://127.0.0.1:${port}`;
    ops = `http://127.0.0.1:${opsPort}`;
    proc = await runApi(env);
  });
  after(async () => {
    await proc.stop(5000);
    await dropApiDatabase(env);
  });

  test('healthz and readyz answer, readyz after pinging MongoDB and Redis', async () => {
    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ok', checks: { mongodb: 'ok', redis: 'ok' } });
  });

  test('register and login over HTTP; the logs hold neither the password nor tokens', async () => {
    const [keys] = await keySets();
    const password = `${PASSWORD} for the process`;
    const reg = await fetch(`${base}/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'proc_user', password, keys }),
    });
    assert.equal(reg.status, 201);
    const session = (await reg.json()) as Session;
    const login = await fetch(`${base}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'proc_user', password }),
    });
    assert.equal(login.status, 200);
    const me = await fetch(`${base}/v1/me`, {
      headers: { authorization: `Bearer ${session.accessToken}` },
    });
    assert.equal(me.status, 200);
    const out = proc.output();
    assert.match(out, /"msg":"account registered"/);
    for (const secret of [password, session.accessToken, session.refreshToken]) {
      assert.ok(!out.includes(secret), 'a secret reached the logs');
    }
    // Every line is JSON.
    for (const line of out.trim().split('\n')) JSON.parse(line);
  });

  test('metrics use the gossip_ prefix and count requests by route template', async () => {
    const res = await fetch(`${ops}/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /^gossip_process_cpu_user_seconds_total/m);
    assert.match(
      text,
      /gossip_api_http_requests_total\{method="POST",route="\/v1\/auth\/register",status="201",service="api"\} 1/,
    );
    assert.match(text, /gossip_api_logins_total\{result="ok",service="api"\} 1/);
    assert.match(text, /gossip_api_logins_total\{result="failed",service="api"\} 0/);
    assert.doesNotMatch(text, /proc_user/);
  });

  test('/metrics and /docs are not on the public port (404), only on the ops port', async () => {
    for (const path of ['/metrics', '/docs', '/docs/json']) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 404, path);
      await res.body?.cancel();
    }
    assert.equal((await fetch(`${ops}/healthz`)).status, 200);
  });

  test('OpenAPI is served at /docs on the ops port', async () => {
    const ui = await fetch(`${ops}/docs`);
    assert.equal(ui.status, 200);
    assert.match(await ui.text(), /swagger/i);
    const spec = (await (await fetch(`${ops}/docs/json`)).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    assert.match(spec.openapi, /^3\./);
    for (const p of [
      '/v1/auth/register',
      '/v1/users/{username}/keys',
      '/v1/contacts/{username}/accept',
    ]) {
      assert.ok(spec.paths[p], `${p} is documented`);
    }
  });

  test('SIGTERM stops it gracefully with exit code 0', async () => {
    const code = await proc.stop(8000);
    assert.equal(code, 0);
    assert.match(proc.output(), /"msg":"shutdown complete"/);
  });
});

describe('api process configuration', () => {
  test('a bad variable stops start-up with exit 1 and names it, without its value', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [
        {
          API_JWT_PRIVATE_KEYS:
            '{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k","x":"AA","d":"c2VjcmV0LXNlZWQ"}]}',
        },
        'API_JWT_PRIVATE_KEYS',
      ],
      [{ API_MONGO_URL: '' }, 'API_MONGO_URL'],
      [{ API_PORT: 'eighty' }, 'API_PORT'],
      [{ API_REDIS_URL: 'http://localhost' }, 'API_REDIS_URL'],
    ];
    for (const [override, variable] of cases) {
      const env = apiEnv(override);
      const proc = await runApi(env, null);
      const code = await proc.exited;
      assert.equal(code, 1, `${variable}: ${proc.output()}`);
      assert.match(proc.output(), new RegExp(`invalid configuration: ${variable}`));
      if (variable === 'API_JWT_PRIVATE_KEYS')
        assert.ok(!proc.output().includes('c2VjcmV0LXNlZWQ'));
    }
  });

  test('while Redis is unreachable: healthz 200, readyz 503 naming Redis, requests 503 unavailable', async () => {
    const port = await freePort();
    const dead = await freePort();
    const env = apiEnv({
      API_PORT: String(port),
      API_HOST: '127.0.0.1',
      API_REDIS_URL: `redis://127.0.0.1:${dead}`,
    });
    const proc = await runApi(env, '/healthz');
    try {
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      assert.equal(ready.status, 503);
      const body = (await ready.json()) as { status: string; checks: Record<string, string> };
      assert.equal(body.status, 'unavailable');
      assert.equal(body.checks.mongodb, 'ok');
      assert.notEqual(body.checks.redis, 'ok');
      // Requests that need Redis say so with a 503 from the catalog instead of hanging.
      const started = Date.now();
      const login = await fetch(`http://127.0.0.1:${port}/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'someone', password: 'whatever pw' }),
      });
      assert.equal(login.status, 503);
      assert.deepEqual(
        ((await login.json()) as { error: { code: string } }).error.code,
        'unavailable',
      );
      assert.ok(Date.now() - started < 10_000);
    } finally {
      await proc.stop(5000);
    }
  });
});
