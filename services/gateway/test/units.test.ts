/** Pure logic of the gateway: token bucket and config parsing (tokens: servicekit's tests). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, generateSigningJwk, publicKeySet } from '@gossip/servicekit';
import { configErrorFor } from '@gossip/testenv';
import { loadConfig } from '../src/config.js';
import { TokenBucket } from '../src/ratelimit.js';

const privateSet = { keys: [generateSigningJwk('k1')] };
const base = {
  GATEWAY_AMQP_URL: 'amqp://x',
  GATEWAY_REDIS_URL: 'redis://x',
  GATEWAY_JWT_PUBLIC_KEYS: JSON.stringify(publicKeySet(privateSet)),
};

describe('TokenBucket', () => {
  it('allows a burst, then refills at the sustained rate', () => {
    let t = 0;
    const b = new TokenBucket(10, 5, () => t);
    for (let i = 0; i < 5; i++) assert.equal(b.take(), true);
    assert.equal(b.take(), false);
    t += 100; // one token at 10/s
    assert.equal(b.take(), true);
    assert.equal(b.take(), false);
    t += 10_000; // never more than the burst
    for (let i = 0; i < 5; i++) assert.equal(b.take(), true);
    assert.equal(b.take(), false);
  });
});

describe('gateway config', () => {
  it('applies defaults and derives the instance id', () => {
    const c = loadConfig(base);
    assert.equal(c.port, 8081);
    assert.equal(c.opsPort, 9092);
    assert.equal(c.amqpPrefix, 'gossip');
    assert.equal(c.redisPrefix, 'gossip:');
    assert.ok(c.instanceId.length > 0);
    assert.equal(typeof c.jwtKeys, 'function');
    assert.ok(Object.isFrozen(c));
  });

  it('names the missing or bad variable', () => {
    assert.throws(
      () => loadConfig({ ...base, GATEWAY_AMQP_URL: '' }),
      configErrorFor('GATEWAY_AMQP_URL'),
    );
    // Not a JWK set, an empty one, and a private key (a gateway must never hold one).
    for (const bad of ['c2hvcnQ=', '{"keys":[]}', JSON.stringify(privateSet)]) {
      assert.throws(
        () => loadConfig({ ...base, GATEWAY_JWT_PUBLIC_KEYS: bad }),
        (e: unknown) =>
          e instanceof ConfigError &&
          e.variable === 'GATEWAY_JWT_PUBLIC_KEYS' &&
          !e.message.includes(privateSet.keys[0]!.d),
      );
    }
    assert.throws(
      () => loadConfig({ ...base, GATEWAY_PORT: 'eighty' }),
      configErrorFor('GATEWAY_PORT'),
    );
    // The ops listener (metrics) must not share the public port.
    assert.throws(
      () => loadConfig({ ...base, GATEWAY_PORT: '9000', GATEWAY_OPS_PORT: '9000' }),
      configErrorFor('GATEWAY_OPS_PORT'),
    );
    assert.equal(loadConfig({ ...base, GATEWAY_PORT: '0', GATEWAY_OPS_PORT: '0' }).opsPort, 0);
    assert.throws(
      () =>
        loadConfig({
          ...base,
          GATEWAY_HIGH_WATER_BYTES: '100000',
          GATEWAY_MAX_BUFFERED_BYTES: '2000',
        }),
      configErrorFor('GATEWAY_MAX_BUFFERED_BYTES'),
    );
  });
});

describe('gateway config: malformed-input limits', () => {
  it('defaults the violation count and HTTP timeouts and checks their order', () => {
    const c = loadConfig(base);
    assert.equal(c.rateViolationsMax, 20);
    assert.deepEqual(c.http, { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000 });
    assert.throws(
      () => loadConfig({ ...base, GATEWAY_RATE_VIOLATIONS_MAX: '0' }),
      configErrorFor('GATEWAY_RATE_VIOLATIONS_MAX'),
    );
    assert.throws(
      () => loadConfig({ ...base, GATEWAY_HTTP_HEADERS_TIMEOUT_MS: '40000' }),
      configErrorFor('GATEWAY_HTTP_REQUEST_TIMEOUT_MS'),
    );
  });
});
