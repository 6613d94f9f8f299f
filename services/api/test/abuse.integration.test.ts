/**
 * Abuse limits (issue 13 §3) against real FerretDB and Redis: a stranger cannot lock an
 * owner out of their account, and each expensive or noisy action has its own limit.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HashPool, PasswordHasher } from '../src/passwords.js';
import {
  PASSWORD,
  bearer,
  errorOf,
  keySets,
  login,
  register,
  startApi,
  type Harness,
} from './helpers.js';

let keys: Awaited<ReturnType<typeof keySets>>;
before(async () => {
  keys = await keySets();
});

describe('login throttle per (username, client address)', () => {
  let h: Harness;
  let clock = Date.UTC(2026, 0, 1);
  before(async () => {
    h = await startApi(
      { API_LOGIN_FREE_ATTEMPTS: '3', API_LOGIN_DELAY_BASE_SECONDS: '1' },
      { now: () => clock },
    );
  });
  after(() => h.close());

  test("a stranger's failures from one address do not keep the owner out at another", async () => {
    await register(h.app, 'ab_owner', keys[0]!);
    const codes: number[] = [];
    for (let i = 0; i < 30; i++) {
      codes.push((await login(h.app, 'ab_owner', `guess ${i}`, '10.9.0.1')).statusCode);
    }
    // The stranger is slowed down at their address ...
    assert.deepEqual(codes.slice(0, 3), [401, 401, 401]);
    assert.ok(
      codes.slice(3).every((c) => c === 429),
      codes.join(','),
    );
    // ... even with the right password while their delay runs ...
    assert.equal((await login(h.app, 'ab_owner', PASSWORD, '10.9.0.1')).statusCode, 429);
    // ... and the owner, elsewhere, logs in at once.
    const owner = await login(h.app, 'ab_owner', PASSWORD, '10.9.0.2');
    assert.equal(owner.statusCode, 200, owner.body);
  });

  test('the delay doubles with each failure and a success clears it', async () => {
    await register(h.app, 'ab_slow', keys[0]!);
    const at = '10.9.1.1';
    for (let i = 0; i < 3; i++) {
      assert.equal((await login(h.app, 'ab_slow', 'wrong', at)).statusCode, 401);
    }
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) {
      const refused = await login(h.app, 'ab_slow', 'wrong', at);
      assert.deepEqual(errorOf(refused), { status: 429, code: 'rate_limited' });
      const wait = Number(refused.headers['retry-after']);
      waits.push(wait);
      clock += wait * 1000;
      assert.equal((await login(h.app, 'ab_slow', 'wrong', at)).statusCode, 401);
    }
    assert.deepEqual(waits, [1, 2, 4]);
    const refused = await login(h.app, 'ab_slow', PASSWORD, at);
    clock += Number(refused.headers['retry-after']) * 1000;
    assert.equal((await login(h.app, 'ab_slow', PASSWORD, at)).statusCode, 200);
    // Cleared: the next mistake is free again.
    assert.equal((await login(h.app, 'ab_slow', 'wrong', at)).statusCode, 401);
  });

  test('the throttle keys in Redis hold neither the username nor the address', async () => {
    const found = await h.redis.keys(`${h.config.redisPrefix}rl:login_pair:*`);
    assert.ok(found.length > 0);
    for (const k of found) assert.ok(!k.includes('ab_') && !k.includes('10.9'), k);
  });
});

describe('account deletion has its own limit', () => {
  let h: Harness;
  before(async () => {
    h = await startApi({ API_DELETE_MAX_PER_USER: '2', API_LOGIN_FREE_ATTEMPTS: '2' });
  });
  after(() => h.close());

  test('wrong-password deletions trip it; logins are not counted against it', async () => {
    const s = await register(h.app, 'ab_del', keys[0]!);
    const del = (password: string) =>
      h.app.inject({ method: 'DELETE', url: '/v1/me', headers: bearer(s), payload: { password } });
    assert.equal((await login(h.app, 'ab_del', PASSWORD, '10.9.2.1')).statusCode, 200);
    assert.equal((await login(h.app, 'ab_del', PASSWORD, '10.9.2.1')).statusCode, 200);
    assert.equal((await del('wrong')).statusCode, 401);
    assert.equal((await del('wrong')).statusCode, 401);
    assert.deepEqual(errorOf(await del(PASSWORD)), { status: 429, code: 'rate_limited' });
    assert.equal(await h.db.collection('users').countDocuments({ _id: 'ab_del' as never }), 1);
    // Logging in still works: deletion attempts do not count as login failures.
    assert.equal((await login(h.app, 'ab_del', PASSWORD, '10.9.2.1')).statusCode, 200);
  });
});

describe('contact operations are rate limited per user', () => {
  let h: Harness;
  const s: Record<string, Awaited<ReturnType<typeof register>>> = {};
  before(async () => {
    h = await startApi({
      API_CONTACT_REQUEST_MAX_PER_USER: '2',
      API_CONTACT_CHANGE_MAX_PER_USER: '3',
    });
    for (const name of ['cr_amy', 'cr_ben', 'cr_cat', 'cr_dov', 'cr_eli']) {
      s[name] = await register(h.app, name, keys[0]!);
    }
  });
  after(() => h.close());

  const act = (who: string, method: 'POST' | 'DELETE', path: string) =>
    h.app.inject({ method, url: `/v1/contacts/${path}`, headers: bearer(s[who]!) });

  test('requests: the third in the window is refused and stores nothing', async () => {
    assert.equal((await act('cr_amy', 'POST', 'cr_ben/request')).statusCode, 204);
    assert.equal((await act('cr_amy', 'POST', 'cr_cat/request')).statusCode, 204);
    const third = await act('cr_amy', 'POST', 'cr_dov/request');
    assert.deepEqual(errorOf(third), { status: 429, code: 'rate_limited' });
    assert.ok(Number(third.headers['retry-after']) >= 1);
    assert.equal(await h.db.collection('contacts').countDocuments({ owner: 'cr_dov' }), 0);
    // Another user's requests are counted apart.
    assert.equal((await act('cr_dov', 'POST', 'cr_eli/request')).statusCode, 204);
  });

  test('accept, reject, block and unblock share a limit', async () => {
    assert.equal((await act('cr_ben', 'POST', 'cr_amy/accept')).statusCode, 204);
    assert.equal((await act('cr_ben', 'POST', 'cr_eli/block')).statusCode, 204);
    assert.equal((await act('cr_ben', 'POST', 'cr_eli/unblock')).statusCode, 204);
    assert.deepEqual(errorOf(await act('cr_ben', 'POST', 'cr_eli/block')), {
      status: 429,
      code: 'rate_limited',
    });
    assert.equal(
      await h.db.collection('contacts').countDocuments({ _id: 'cr_ben:cr_eli' as never }),
      0,
    );
    assert.deepEqual(errorOf(await act('cr_ben', 'POST', 'cr_eli/reject')), {
      status: 429,
      code: 'rate_limited',
    });
  });
});

describe('password hashing', () => {
  test('a hash made with older parameters is replaced at the next successful login', async () => {
    const old = await startApi({ API_SCRYPT_LOG_N: '10' });
    const current = await startApi({ API_SCRYPT_LOG_N: '11', API_MONGO_DB: old.config.mongoDb });
    try {
      await register(old.app, 'ph_old', keys[0]!);
      const stored = async () =>
        (await current.db.collection<{ passwordHash: string }>('users').findOne({
          _id: 'ph_old' as never,
        }))!.passwordHash;
      assert.match(await stored(), /^scrypt\$10\$8\$1\$/);
      // A failed login changes nothing.
      assert.equal((await login(current.app, 'ph_old', 'wrong', '10.9.3.1')).statusCode, 401);
      assert.match(await stored(), /^scrypt\$10\$8\$1\$/);
      assert.equal((await login(current.app, 'ph_old', PASSWORD, '10.9.3.1')).statusCode, 200);
      const upgraded = await stored();
      assert.match(upgraded, /^scrypt\$11\$8\$1\$/);
      // The new hash is the same password, and is not re-hashed again.
      assert.equal((await login(current.app, 'ph_old', PASSWORD, '10.9.3.1')).statusCode, 200);
      assert.equal(await stored(), upgraded);
    } finally {
      await current.close();
      await old.close();
    }
  });

  test('the hashing pool: logins beyond the running one queue, beyond the queue get 503', async () => {
    const pool = new HashPool(1, 2);
    const h = await startApi({}, { passwords: new PasswordHasher(pool, 12) });
    try {
      await register(h.app, 'ph_pool', keys[0]!);
      // Hold the one slot, as a slow hash would.
      let release!: () => void;
      const holder = pool.run(() => new Promise<void>((resolve) => (release = resolve)));
      const logins = [1, 2, 3].map((i) =>
        login(h.app, 'ph_pool', PASSWORD, `10.9.4.${i}`).then((r) => r.statusCode),
      );
      // Two wait in the queue, so the first answer can only be the refused third.
      assert.equal(await Promise.race(logins), 503);
      assert.deepEqual(pool.stats(), { running: 1, queued: 2 });
      // Other work is not starved while the pool is full.
      assert.equal((await h.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
      release();
      await holder;
      assert.deepEqual((await Promise.all(logins)).sort(), [200, 200, 503]);
      assert.deepEqual(pool.stats(), { running: 0, queued: 0 });
    } finally {
      await h.close();
    }
  });
});

describe('the client address behind a proxy (API_TRUST_PROXY as CIDRs)', () => {
  let h: Harness;
  before(async () => {
    h = await startApi({ API_TRUST_PROXY: '10.0.0.0/8', API_LOGIN_FREE_ATTEMPTS: '2' });
  });
  after(() => h.close());

  const viaProxy = (peer: string, forwardedFor: string, password: string) =>
    h.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { username: 'tp_owner', password },
      remoteAddress: peer,
      headers: { 'x-forwarded-for': forwardedFor },
    });

  test('through a trusted proxy each client has its own throttle', async () => {
    await register(h.app, 'tp_owner', keys[0]!);
    const stranger: number[] = [];
    for (let i = 0; i < 6; i++) {
      stranger.push((await viaProxy('10.0.0.5', '203.0.113.7', 'guess')).statusCode);
    }
    assert.deepEqual(stranger, [401, 401, 429, 429, 429, 429]);
    assert.equal((await viaProxy('10.0.0.5', '198.51.100.2', PASSWORD)).statusCode, 200);
  });

  test('an untrusted peer cannot dodge its throttle by inventing X-Forwarded-For', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) {
      codes.push((await viaProxy('192.0.2.50', `198.51.100.${100 + i}`, 'guess')).statusCode);
    }
    assert.deepEqual(codes, [401, 401, 429, 429, 429]);
  });
});
