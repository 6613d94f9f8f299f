/**
 * The api as a real process (src/main.ts), its public and its ops listener, against the
 * malformed-input corpus of @gossip/testenv: every case ends in a 4xx (or a closed
 * socket), and the process still answers `/healthz` afterwards. `GET /v1/users?%=1` once made it exit (a URIError thrown
 * by the log serializer); the first cases are that request and its relatives.
 */
import assert from 'node:assert/strict';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { API_PATHS } from '@gossip/protocol';
import {
  casesFor,
  checkCase,
  exchange,
  freePort,
  startProcess,
  type Listener,
  type ManagedProcess,
} from '@gossip/testenv';
import { apiEnv, dropApiDatabase } from './helpers.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

describe('api process: malformed input', () => {
  let proc: ManagedProcess;
  let env: Record<string, string>;
  let listener: Listener;
  /** The ops listener (/healthz, /readyz, /metrics, /docs) of the same process. */
  let ops: Listener;
  let exitCode: number | string | undefined;

  before(async () => {
    const port = await freePort();
    const opsPort = await freePort();
    env = apiEnv({
      API_PORT: String(port),
      API_OPS_PORT: String(opsPort),
      API_HOST: '127.0.0.1',
      API_LOG_LEVEL: 'info',
      // Short, so the slow-client cases end soon; the cases do not measure them.
      API_HTTP_HEADERS_TIMEOUT_MS: '500',
      API_HTTP_REQUEST_TIMEOUT_MS: '1000',
    });
    proc = await startProcess({
      command: process.execPath,
      args: ['--import', 'tsx', join(repoRoot, 'services/api/src/main.ts')],
      cwd: repoRoot,
      cleanEnv: true,
      env,
      readyUrl: `http://127.0.0.1:${port}/readyz`,
      readyTimeoutMs: 30_000,
    });
    void proc.exited.then((code) => (exitCode = code));
    listener = {
      host: '127.0.0.1',
      port,
      healthPath: '/healthz',
      // Needs a token: a well-formed GET is a 401.
      probePath: API_PATHS.search,
      // Valid JSON with wrong credentials is a 401; the cases must get their own 4xx.
      jsonPath: API_PATHS.login,
    };
    ops = { host: '127.0.0.1', port: opsPort, healthPath: '/healthz', probePath: '/nope' };
  });
  after(async () => {
    await proc.stop(5000);
    await dropApiDatabase(env);
  });

  for (const c of casesFor({ json: true })) {
    test(`refuses ${c.name} and keeps serving`, async () => {
      await checkCase(listener, c);
      assert.equal(exitCode, undefined, `the api exited: ${proc.output().slice(-2000)}`);
    });
  }

  for (const c of casesFor({})) {
    test(`ops listener: refuses ${c.name} and keeps serving`, async () => {
      await checkCase(ops, c);
      assert.equal(exitCode, undefined, `the api exited: ${proc.output().slice(-2000)}`);
    });
  }

  test('GET /v1/users?%=1 is a 401 with a JSON body, logged with the name redacted', async () => {
    const x = await exchange(
      listener,
      Buffer.from(`GET ${API_PATHS.search}?%=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
    );
    assert.equal(x.status, 401, x.head);
    assert.match(x.head, /"code":"unauthorized"/);
    assert.match(proc.output(), /"url":"\/v1\/users\?%=\[redacted\]"/);
  });

  test('a path fastify cannot decode is a 400 bad_request with a catalog body', async () => {
    const x = await exchange(
      listener,
      Buffer.from('GET /v1/users/%E0%A4%A HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
    );
    assert.equal(x.status, 400, x.head);
    assert.match(x.head, /"code":"bad_request"/);
  });

  test('oversize headers are a 431 with a catalog body, slow ones a 408', async () => {
    const big = await exchange(
      listener,
      Buffer.from(
        `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\nConnection: close\r\n\r\n`,
      ),
    );
    assert.equal(big.status, 431, big.head);
    assert.match(big.head, /"code":"headers_too_large"/);
    const slow = await exchange(listener, Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\n'));
    assert.equal(slow.status, 408, slow.head);
    assert.match(slow.head, /"code":"request_timeout"/);
  });
});
