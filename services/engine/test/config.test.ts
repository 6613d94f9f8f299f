/** The engine's configuration parsing. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { configErrorFor } from '@gossip/testenv';
import { loadConfig } from '../src/config.js';

const base = {
  ENGINE_AMQP_URL: 'amqp://x',
  ENGINE_MONGO_URL: 'mongodb://x',
  ENGINE_REDIS_URL: 'redis://x',
};

describe('engine config', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig(base);
    assert.equal(c.port, 9091);
    assert.equal(c.mongoDb, 'gossip');
    assert.equal(c.retentionSeconds, 604_800);
    assert.equal(c.redeliverySeconds, 30);
    assert.equal(c.queueType, 'quorum');
    assert.equal(c.prefetch, 64);
    assert.ok(Object.isFrozen(c));
  });

  it('treats empty as unset and names a bad variable', () => {
    assert.equal(loadConfig({ ...base, ENGINE_MONGO_DB: '' }).mongoDb, 'gossip');
    assert.throws(
      () => loadConfig({ ...base, ENGINE_MONGO_URL: undefined }),
      configErrorFor('ENGINE_MONGO_URL'),
    );
    assert.throws(
      () => loadConfig({ ...base, ENGINE_QUEUE_TYPE: 'stream' }),
      configErrorFor('ENGINE_QUEUE_TYPE'),
    );
    assert.throws(
      () => loadConfig({ ...base, ENGINE_REDELIVERY_SECONDS: '0' }),
      configErrorFor('ENGINE_REDELIVERY_SECONDS'),
    );
  });
});

describe('engine config: ops port timeouts', () => {
  it('defaults to 10 s / 30 s and refuses a request timeout under the headers timeout', () => {
    assert.deepEqual(loadConfig(base).http, { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000 });
    assert.throws(
      () => loadConfig({ ...base, ENGINE_HTTP_REQUEST_TIMEOUT_MS: '1000' }),
      configErrorFor('ENGINE_HTTP_REQUEST_TIMEOUT_MS'),
    );
  });
});
