/**
 * Register, login, sessions and rate limits against real FerretDB and Redis.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type { Session } from '@gossip/protocol';
import {
  INVALID_TOKEN,
  PASSWORD,
  call,
  errorOf,
  keySets,
  login,
  register,
  startApi,
  type Harness,
} from './helpers.js';

let h: Harness;
let keys: Awaited<ReturnType<typeof keySets>>;

before(async () => {
  keys = await keySets();
  h = await startApi();
});
after(() => h.close());

/** POST /v1/auth/refresh with `refreshToken`, to the shared api unless `app` is given. */
function refresh(refreshToken: string, app = h.app) {
  return app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken } });
}

describe('register', () => {
  test('creates an account with keys and returns a working session', async () => {
    const s = await register(h.app, 'reg_alice', keys[0]!);
    assert.equal(s.tokenType, 'Bearer');
    assert.equal(s.user.username, 'reg_alice');
    assert.equal(s.user.keyVersion, 1);
    assert.equal(s.expiresIn, 900);
    const me = await call(h.app, 'GET', '/v1/me', s);
    assert.equal(me.statusCode, 200);
    assert.equal(me.json<{ username: string }>().username, 'reg_alice');
    const stored = await h.db.collection('users').findOne({ _id: 'reg_alice' as never });
    assert.ok(stored);
    assert.match(String(stored.passwordHash), /^scrypt\$12\$8\$1\$/);
  });

  test('refuses a duplicate username with 409 username_taken and keeps the first account', async () => {
    await register(h.app, 'reg_dup', keys[0]!);
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/register',
      payload: { username: 'reg_dup', password: 'another password', keys: keys[1] },
    });
    assert.deepEqual(errorOf(res), { status: 409, code: 'username_taken' });
    assert.equal((await login(h.app, 'reg_dup', PASSWORD)).statusCode, 200);
  });

  test('two racing registrations of one name store exactly one account', async () => {
    const results = await Promise.all(
      [0, 1, 2].map(() =>
        h.app.inject({
          method: 'POST',
          url: '/v1/auth/register',
          payload: { username: 'reg_race', password: PASSWORD, keys: keys[0] },
        }),
      ),
    );
    const codes = results.map((r) => r.statusCode).sort();
    assert.deepEqual(codes, [201, 409, 409]);
    assert.equal(await h.db.collection('users').countDocuments({ _id: 'reg_race' as never }), 1);
  });
});

describe('login', () => {
  before(() => register(h.app, 'login_bob', keys[1]!));

  test('returns a session for the right password', async () => {
    const res = await login(h.app, 'login_bob', PASSWORD);
    assert.equal(res.statusCode, 200);
    const s = res.json<Session>();
    assert.equal(s.user.username, 'login_bob');
    assert.ok(s.refreshToken.length >= 43);
  });

  test('a wrong password and an unknown user get the same answer', async () => {
    const wrong = await login(h.app, 'login_bob', 'not the password', '10.0.0.2');
    const unknown = await login(h.app, 'nobody_here', 'not the password', '10.0.0.2');
    const malformed = await login(h.app, 'Not A Username!', 'whatever', '10.0.0.2');
    for (const res of [wrong, unknown, malformed]) {
      assert.deepEqual(errorOf(res), { status: 401, code: 'invalid_credentials' });
    }
    assert.equal(wrong.body, unknown.body);
    assert.equal(wrong.body, malformed.body);
  });
});

describe('tokens', () => {
  test('a missing, malformed or forged access token is refused', async () => {
    const s = await register(h.app, 'tok_carol', keys[0]!);
    const none = await h.app.inject({ method: 'GET', url: '/v1/me' });
    assert.deepEqual(errorOf(none), { status: 401, code: 'unauthorized' });
    const junk = await call(h.app, 'GET', '/v1/me', 'abc');
    assert.deepEqual(errorOf(junk), INVALID_TOKEN);
    // Same claims, other key: the signature check must fail.
    const [head, payload] = s.accessToken.split('.');
    const forged = `${head}.${payload}.${'A'.repeat(43)}`;
    const f = await call(h.app, 'GET', '/v1/me', forged);
    assert.deepEqual(errorOf(f), INVALID_TOKEN);
    // alg=none must never be accepted.
    const none64 = Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url');
    const n = await call(h.app, 'GET', '/v1/me', `${none64}.${payload}.`);
    assert.deepEqual(errorOf(n), INVALID_TOKEN);
  });

  test('refresh rotates: the new pair works, the old refresh token is used up', async () => {
    const s = await register(h.app, 'tok_dave', keys[0]!);
    const r1 = await refresh(s.refreshToken);
    assert.equal(r1.statusCode, 200);
    const s2 = r1.json<Session>();
    assert.notEqual(s2.refreshToken, s.refreshToken);
    const me = await call(h.app, 'GET', '/v1/me', s2);
    assert.equal(me.statusCode, 200);
    // The new refresh token is used in turn.
    const r2 = await refresh(s2.refreshToken);
    assert.equal(r2.statusCode, 200);
    const s3 = r2.json<Session>();

    // Replaying the first token (its successor was used: not a retry) fails and revokes
    // the whole session family...
    assert.deepEqual(errorOf(await refresh(s.refreshToken)), INVALID_TOKEN);
    // ...so the token the thief or the owner got from the rotation is dead too.
    assert.deepEqual(errorOf(await refresh(s3.refreshToken)), INVALID_TOKEN);
  });

  test('a retry of a refresh whose answer was lost gets a new pair; the lost one is a tombstone', async () => {
    const s = await register(h.app, 'tok_dora', keys[0]!);
    const lost = (await refresh(s.refreshToken)).json<Session>(); // the client never saw it
    const retry = await refresh(s.refreshToken);
    assert.equal(retry.statusCode, 200, retry.body);
    const s2 = retry.json<Session>();
    assert.notEqual(s2.refreshToken, lost.refreshToken);
    // The retry's answer works...
    const s3 = (await refresh(s2.refreshToken)).json<Session>();
    // ...but whoever later presents the lost answer (a thief who raced the owner, or the
    // owner) ends the session: the grace never lets one side quietly take it over.
    assert.deepEqual(errorOf(await refresh(lost.refreshToken)), INVALID_TOKEN);
    assert.deepEqual(errorOf(await refresh(s3.refreshToken)), INVALID_TOKEN);
  });

  test('with API_REFRESH_RETRY_GRACE_SECONDS=0 any second use ends the session', async () => {
    const strict = await startApi({ API_REFRESH_RETRY_GRACE_SECONDS: '0' });
    try {
      const s = await register(strict.app, 'tok_dirk', keys[0]!);
      const post = (t: string) => refresh(t, strict.app);
      const s2 = (await post(s.refreshToken)).json<Session>();
      assert.deepEqual(errorOf(await post(s.refreshToken)), INVALID_TOKEN);
      assert.deepEqual(errorOf(await post(s2.refreshToken)), INVALID_TOKEN);
    } finally {
      await strict.close();
    }
  });

  test('logout revokes the refresh token; other sessions stay', async () => {
    const s = await register(h.app, 'tok_erin', keys[1]!);
    const other = (await login(h.app, 'tok_erin', PASSWORD, '10.0.0.3')).json<Session>();
    const out = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/logout',
      payload: { refreshToken: s.refreshToken },
    });
    assert.equal(out.statusCode, 204);
    const r = await refresh(s.refreshToken);
    assert.deepEqual(errorOf(r), INVALID_TOKEN);
    const ok = await refresh(other.refreshToken);
    assert.equal(ok.statusCode, 200);
    // Logging out an unknown token says nothing either way.
    const unknown = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/logout',
      payload: { refreshToken: 'x'.repeat(43) },
    });
    assert.equal(unknown.statusCode, 204);
  });

  test('refresh tokens are stored only as hashes', async () => {
    const s = await register(h.app, 'tok_frank', keys[0]!);
    const docs = await h.db.collection('refresh_tokens').find({ username: 'tok_frank' }).toArray();
    assert.equal(docs.length, 1);
    assert.ok(!JSON.stringify(docs).includes(s.refreshToken));
  });
});

describe('access token expiry (1 s TTL)', () => {
  let short: Harness;
  before(async () => {
    short = await startApi({ API_ACCESS_TOKEN_TTL_SECONDS: '1' });
  });
  after(() => short.close());

  test('an expired access token gets token_expired; refresh gives a fresh one', async () => {
    const s = await register(short.app, 'exp_gina', keys[0]!);
    assert.equal(s.expiresIn, 1);
    assert.equal((await call(short.app, 'GET', '/v1/me', s)).statusCode, 200);
    await sleep(2100);
    const late = await call(short.app, 'GET', '/v1/me', s);
    assert.deepEqual(errorOf(late), { status: 401, code: 'token_expired' });
    const r = await refresh(s.refreshToken, short.app);
    assert.equal(r.statusCode, 200);
    const fresh = await call(short.app, 'GET', '/v1/me', r.json<Session>());
    assert.equal(fresh.statusCode, 200);
  });

  test('a token from one deployment secret is refused by another', async () => {
    const s = await register(short.app, 'exp_hank', keys[0]!);
    const res = await call(h.app, 'GET', '/v1/me', s);
    assert.deepEqual(errorOf(res), INVALID_TOKEN);
  });
});

describe('rate limits', () => {
  let limited: Harness;
  before(async () => {
    limited = await startApi({
      API_LOGIN_MAX_PER_IP: '5',
      API_SEARCH_MAX_PER_USER: '3',
      API_REGISTER_MAX_PER_IP: '4',
    });
  });
  after(() => limited.close());

  // Per-username throttling (per client address, never for everyone): abuse.integration.test.ts.

  test('login trips per IP across usernames', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await login(limited.app, `rl_user${i}`, 'wrong password', '10.2.0.1');
      assert.equal(r.statusCode, 401);
    }
    const r = await login(limited.app, 'rl_other', 'wrong password', '10.2.0.1');
    assert.deepEqual(errorOf(r), { status: 429, code: 'rate_limited' });
    // Another address is unaffected.
    const elsewhere = await login(limited.app, 'rl_other', 'wrong password', '10.2.0.2');
    assert.equal(elsewhere.statusCode, 401);
  });

  test('search trips per user', async () => {
    const s = await register(limited.app, 'rl_jack', keys[0]!);
    for (let i = 0; i < 3; i++) {
      const r = await call(limited.app, 'GET', '/v1/users?prefix=rl', s);
      assert.equal(r.statusCode, 200);
    }
    const r = await call(limited.app, 'GET', '/v1/users?prefix=rl', s);
    assert.deepEqual(errorOf(r), { status: 429, code: 'rate_limited' });
  });

  test('registration trips per IP', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await limited.app.inject({
        method: 'POST',
        url: '/v1/auth/register',
        payload: { username: `rl_reg${i}`, password: PASSWORD, keys: keys[0] },
        remoteAddress: '10.3.0.1',
      });
      codes.push(r.statusCode);
    }
    const r = await limited.app.inject({
      method: 'POST',
      url: '/v1/auth/register',
      payload: { username: 'rl_reg_x', password: PASSWORD, keys: keys[0] },
      remoteAddress: '10.3.0.1',
    });
    // rl_jack above came from 127.0.0.1, so all four here fit.
    assert.deepEqual(codes, [201, 201, 201, 201]);
    assert.deepEqual(errorOf(r), { status: 429, code: 'rate_limited' });
    assert.equal(
      await limited.db.collection('users').countDocuments({ _id: 'rl_reg_x' as never }),
      0,
    );
  });

  test('the counters are in Redis under the prefix, with hashed subjects', async () => {
    const keys = await limited.redis.keys(`${limited.config.redisPrefix}rl:*`);
    assert.ok(keys.length > 0);
    for (const k of keys) {
      assert.ok(!k.includes('rl_ivy') && !k.includes('10.'), k);
      assert.ok((await limited.redis.pttl(k)) > 0, `${k} has an expiry`);
    }
    const metrics = await limited.app.ops.inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.body, /gossip_api_rate_limited_total\{[^}]*limit="login_ip"[^}]*\} [1-9]/);
  });
});
