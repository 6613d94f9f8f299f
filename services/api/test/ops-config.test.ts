import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, generateSigningJwk } from '@gossip/servicekit';
import { loadConfig } from '../src/config.js';

const minimal = {
  API_MONGO_URL: 'mongodb://127.0.0.1:27017/',
  API_REDIS_URL: 'redis://127.0.0.1:6379',
  API_JWT_PRIVATE_KEYS: JSON.stringify({ keys: [generateSigningJwk('k1', Buffer.alloc(32, 7))] }),
};

test('the ops listener defaults to port 9090, apart from the public 8080', () => {
  const c = loadConfig(minimal);
  assert.equal(c.port, 8080);
  assert.equal(c.opsPort, 9090);
  assert.equal(c.opsHost, '0.0.0.0');
});

test('/docs is off under NODE_ENV=production unless API_DOCS=true, on otherwise', () => {
  assert.equal(loadConfig({ ...minimal, NODE_ENV: 'production' }).docs, false);
  assert.equal(loadConfig({ ...minimal, NODE_ENV: 'production', API_DOCS: 'true' }).docs, true);
  assert.equal(loadConfig(minimal).docs, true);
  assert.equal(loadConfig({ ...minimal, API_DOCS: 'false' }).docs, false);
});

test('API_OPS_PORT equal to API_PORT is refused, naming the variable', () => {
  assert.throws(
    () => loadConfig({ ...minimal, API_PORT: '8080', API_OPS_PORT: '8080' }),
    (err: unknown) => err instanceof ConfigError && err.variable === 'API_OPS_PORT',
  );
});
