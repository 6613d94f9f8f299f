/** Pure logic of the gateway: token bucket, config parsing, access-token checks. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { ConfigError } from '@gossip/servicekit';
import { loadConfig } from '../src/config.js';
import { verifyAccessToken } from '../src/auth.js';
import { TokenBucket } from '../src/ratelimit.js';

const secretB64 = randomBytes(32).toString('base64');
const secret = new Uint8Array(Buffer.from(secretB64, 'base64'));
const base = {
  GATEWAY_AMQP_URL: 'amqp://x',
  GATEWAY_REDIS_URL: 'redis://x',
  GATEWAY_JWT_SECRET: secretB64,
};

async function token(
  claims: Record<string, unknown>,
  opts: { exp?: number; key?: Uint8Array } = {},
) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ typ: 'access', uid: 'u1', ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('alice')
    .setIssuer('gossip-api')
    .setAudience('gossip')
    .setIssuedAt(now)
    .setExpirationTime(opts.exp ?? now + 60)
    .sign(opts.key ?? secret);
}

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
    assert.equal(c.amqpPrefix, 'gossip');
    assert.equal(c.redisPrefix, 'gossip:');
    assert.ok(c.instanceId.length > 0);
    assert.equal(c.jwtSecret.byteLength, 32);
    assert.ok(Object.isFrozen(c));
  });

  it('names the missing or bad variable', () => {
    assert.throws(
      () => loadConfig({ ...base, GATEWAY_AMQP_URL: '' }),
      (e: unknown) => e instanceof ConfigError && e.variable === 'GATEWAY_AMQP_URL',
    );
    assert.throws(
      () => loadConfig({ ...base, GATEWAY_JWT_SECRET: 'c2hvcnQ=' }),
      (e: unknown) => e instanceof ConfigError && e.variable === 'GATEWAY_JWT_SECRET',
    );
    assert.throws(
      () => loadConfig({ ...base, GATEWAY_PORT: 'eighty' }),
      (e: unknown) => e instanceof ConfigError && e.variable === 'GATEWAY_PORT',
    );
    assert.throws(
      () =>
        loadConfig({
          ...base,
          GATEWAY_HIGH_WATER_BYTES: '100000',
          GATEWAY_MAX_BUFFERED_BYTES: '2000',
        }),
      (e: unknown) => e instanceof ConfigError && e.variable === 'GATEWAY_MAX_BUFFERED_BYTES',
    );
  });
});

describe('verifyAccessToken', () => {
  it('accepts a valid access token', async () => {
    const r = await verifyAccessToken(await token({}), secret);
    assert.equal(r.ok && r.session.username, 'alice');
  });

  it('refuses missing, expired, forged, wrong-type and wrong-algorithm tokens', async () => {
    assert.deepEqual(await verifyAccessToken(undefined, secret), {
      ok: false,
      code: 'unauthorized',
    });
    const past = Math.floor(Date.now() / 1000) - 10;
    assert.deepEqual(await verifyAccessToken(await token({}, { exp: past }), secret), {
      ok: false,
      code: 'token_expired',
    });
    const other = new Uint8Array(randomBytes(32));
    assert.deepEqual(await verifyAccessToken(await token({}, { key: other }), secret), {
      ok: false,
      code: 'invalid_token',
    });
    assert.deepEqual(await verifyAccessToken(await token({ typ: 'refresh' }), secret), {
      ok: false,
      code: 'invalid_token',
    });
    const none =
      Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url') +
      '.' +
      Buffer.from(
        JSON.stringify({ sub: 'alice', typ: 'access', iss: 'gossip-api', aud: 'gossip', exp: 9e9 }),
      ).toString('base64url') +
      '.';
    assert.deepEqual(await verifyAccessToken(none, secret), { ok: false, code: 'invalid_token' });
  });
});
