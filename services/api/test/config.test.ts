import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, generateSigningJwk, publicKeySet } from '@gossip/servicekit';
import { loadConfig } from '../src/config.js';

const key = generateSigningJwk('k1', Buffer.alloc(32, 7));
const minimal = {
  API_MONGO_URL: 'mongodb://127.0.0.1:27017/',
  API_REDIS_URL: 'redis://127.0.0.1:6379',
  API_JWT_PRIVATE_KEYS: JSON.stringify({ keys: [key] }),
};

test('loadConfig applies the documented defaults', () => {
  const c = loadConfig(minimal);
  assert.equal(c.port, 8080);
  assert.equal(c.host, '0.0.0.0');
  assert.equal(c.mongoDb, 'gossip');
  assert.equal(c.logLevel, 'info');
  assert.equal(c.accessTokenTtlSeconds, 900);
  assert.equal(c.redisPrefix, 'gossip:');
  // OWASP's scrypt guidance (r = 8 and p = 1 are fixed in passwords.ts; see units.test.ts).
  assert.equal(c.scryptLogN, 17);
  assert.equal(c.hashConcurrency, 2);
  assert.equal(c.hashQueue, 32);
  assert.equal(c.jwtKeys.signing.kid, 'k1');
  assert.deepEqual(c.jwtKeys.publicSet, publicKeySet({ keys: [key] }));
  assert.ok(Object.isFrozen(c));
});

test('loadConfig names the bad variable', () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ API_JWT_PRIVATE_KEYS: '' }, 'API_JWT_PRIVATE_KEYS'],
    [{ API_JWT_PRIVATE_KEYS: Buffer.alloc(32).toString('base64') }, 'API_JWT_PRIVATE_KEYS'],
    [
      { API_JWT_PRIVATE_KEYS: JSON.stringify(publicKeySet({ keys: [key] })) },
      'API_JWT_PRIVATE_KEYS',
    ],
    [{ API_MONGO_URL: 'postgres://x' }, 'API_MONGO_URL'],
    [{ API_PORT: '-1' }, 'API_PORT'],
    [{ API_LOG_LEVEL: 'loud' }, 'API_LOG_LEVEL'],
    [{ API_ACCESS_TOKEN_TTL_SECONDS: '0' }, 'API_ACCESS_TOKEN_TTL_SECONDS'],
    [{ API_TRUST_PROXY: 'maybe' }, 'API_TRUST_PROXY'],
  ];
  for (const [override, variable] of cases) {
    assert.throws(
      () => loadConfig({ ...minimal, ...override }),
      (err: unknown) => err instanceof ConfigError && err.variable === variable,
      variable,
    );
  }
});

test('empty values count as unset', () => {
  assert.equal(loadConfig({ ...minimal, API_PORT: '', API_LOG_LEVEL: '' }).port, 8080);
});

test('loadConfig: HTTP timeouts default to 10 s / 30 s; a request timeout under the headers one is refused', () => {
  assert.deepEqual(loadConfig(minimal).http, {
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
  });
  assert.throws(
    () =>
      loadConfig({
        ...minimal,
        API_HTTP_REQUEST_TIMEOUT_MS: '500',
        API_HTTP_HEADERS_TIMEOUT_MS: '1000',
      }),
    (e: unknown) => e instanceof ConfigError && e.variable === 'API_HTTP_REQUEST_TIMEOUT_MS',
  );
});
