import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '@gossip/servicekit';
import { loadConfig } from '../src/config.js';

const secret = Buffer.alloc(32, 7).toString('base64');
const minimal = {
  API_MONGO_URL: 'mongodb://127.0.0.1:27017/',
  API_REDIS_URL: 'redis://127.0.0.1:6379',
  API_JWT_SECRET: secret,
};

test('loadConfig applies the documented defaults', () => {
  const c = loadConfig(minimal);
  assert.equal(c.port, 8080);
  assert.equal(c.host, '0.0.0.0');
  assert.equal(c.mongoDb, 'gossip');
  assert.equal(c.logLevel, 'info');
  assert.equal(c.accessTokenTtlSeconds, 900);
  assert.equal(c.redisPrefix, 'gossip:');
  assert.equal(c.scryptLogN, 15);
  assert.equal(c.jwtSecret.byteLength, 32);
  assert.ok(Object.isFrozen(c));
});

test('loadConfig names the bad variable', () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ API_JWT_SECRET: '' }, 'API_JWT_SECRET'],
    [{ API_JWT_SECRET: Buffer.alloc(31).toString('base64') }, 'API_JWT_SECRET'],
    [{ API_JWT_SECRET: 'not/base64!' }, 'API_JWT_SECRET'],
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
