/**
 * Account deletion removes the user's data, and the server never stores or logs a
 * password, a private key or a token (real FerretDB, Redis and captured logs).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  exportIdentityKeysJwk,
  exportPublicKeys,
  generateIdentityKeys,
  toBase64,
} from '@gossip/crypto';
import type { PublicKeys, Session } from '@gossip/protocol';
import type { Db } from 'mongodb';
import {
  PASSWORD,
  bearer,
  call,
  errorOf,
  keySets,
  register,
  startApi,
  type Harness,
} from './helpers.js';

let h: Harness;
let keys: PublicKeys[];

before(async () => {
  keys = await keySets();
  h = await startApi();
});
after(() => h.close());

/** Every document of every collection, as one JSON text per collection. */
async function dumpDb(db: Db): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const { name } of await db.listCollections().toArray()) {
    const docs = await db.collection(name).find({}).toArray();
    out[name] = JSON.stringify(docs);
  }
  return out;
}

async function dumpRedis(h: Harness): Promise<string> {
  const keys = await h.redis.keys(`${h.config.redisPrefix}*`);
  const parts: string[] = [];
  // Every type the api writes (strings, hashes, sets, sorted sets): a secret in any of them counts.
  for (const k of keys) {
    const type = await h.redis.type(k);
    const value =
      type === 'hash'
        ? await h.redis.hgetall(k)
        : type === 'set'
          ? await h.redis.smembers(k)
          : type === 'zset'
            ? await h.redis.zrange(k, 0, -1, 'WITHSCORES')
            : type === 'list'
              ? await h.redis.lrange(k, 0, -1)
              : await h.redis.get(k);
    parts.push(k, JSON.stringify(value));
  }
  return parts.join('\n');
}

describe('account deletion', () => {
  let zed: Session;
  const png = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(64, 3)]);

  before(async () => {
    zed = await register(h.app, 'zed', keys[0]!);
    const alice = await register(h.app, 'alice', keys[1]!);
    await register(h.app, 'bob', keys[1]!);
    assert.equal((await call(h.app, 'POST', '/v1/contacts/alice/request', zed)).statusCode, 204);
    assert.equal((await call(h.app, 'POST', '/v1/contacts/zed/accept', alice)).statusCode, 204);
    assert.equal((await call(h.app, 'POST', '/v1/contacts/bob/request', zed)).statusCode, 204);
    const up = await h.app.inject({
      method: 'PUT',
      url: '/v1/me/avatar',
      headers: { ...bearer(zed), 'content-type': 'image/png' },
      payload: png,
    });
    assert.equal(up.statusCode, 200);
    // A second session, and pending messages as the engine stores them.
    const login = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { username: 'zed', password: PASSWORD },
    });
    assert.equal(login.statusCode, 200);
    await h.db.collection<{ _id: string; to: string; from: string }>('messages').insertMany([
      { _id: 'm1', to: 'zed', from: 'alice' },
      { _id: 'm2', to: 'alice', from: 'zed' },
      { _id: 'm3', to: 'alice', from: 'bob' },
    ]);
    await h.db.collection<{ _id: string; to: string; from: string }>('receipts').insertMany([
      { _id: 'r1', to: 'zed', from: 'alice' },
      { _id: 'r2', to: 'alice', from: 'zed' },
    ]);
  });

  test('a wrong or missing password deletes nothing', async () => {
    const wrong = await call(h.app, 'DELETE', '/v1/me', zed, { password: 'not my password' });
    assert.deepEqual(errorOf(wrong), { status: 401, code: 'invalid_credentials' });
    const missing = await call(h.app, 'DELETE', '/v1/me', zed);
    assert.deepEqual(errorOf(missing), { status: 400, code: 'validation_failed' });
    assert.equal(await h.db.collection('users').countDocuments({ _id: 'zed' as never }), 1);
  });

  test('deletion removes the user, sessions, contacts, events, messages, receipts and avatar', async () => {
    const res = await call(h.app, 'DELETE', '/v1/me', zed, { password: PASSWORD });
    assert.equal(res.statusCode, 204);

    const dump = await dumpDb(h.db);
    for (const [name, text] of Object.entries(dump)) {
      if (name === 'events') continue;
      assert.ok(!text.includes('zed'), `${name} still mentions zed: ${text.slice(0, 500)}`);
    }
    // What is left: one "removed" notice to each former contact, naming zed as `from`.
    const events = await h.db
      .collection('events')
      .find({ $or: [{ to: 'zed' }, { from: 'zed' }] })
      .toArray();
    assert.deepEqual(events.map((e) => [e.to, e.from, e.event]).sort(), [
      ['alice', 'zed', 'removed'],
      ['bob', 'zed', 'removed'],
    ]);
    assert.equal(await h.db.collection('messages').countDocuments({}), 1);
    assert.equal(await h.db.collection('receipts').countDocuments({}), 0);
    assert.equal(await h.db.collection('avatars.files').countDocuments({}), 0);
    assert.equal(await h.db.collection('avatars.chunks').countDocuments({}), 0);
  });

  test('the deleted account’s tokens no longer work, even after the name is taken again', async () => {
    const me = await call(h.app, 'GET', '/v1/me', zed);
    assert.deepEqual(errorOf(me), { status: 401, code: 'invalid_token' });
    const refresh = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/refresh',
      payload: { refreshToken: zed.refreshToken },
    });
    assert.deepEqual(errorOf(refresh), { status: 401, code: 'invalid_token' });
    const login = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { username: 'zed', password: PASSWORD },
    });
    assert.deepEqual(errorOf(login), { status: 401, code: 'invalid_credentials' });
    await register(h.app, 'zed', keys[1]!);
    const again = await call(h.app, 'GET', '/v1/me', zed);
    assert.deepEqual(errorOf(again), { status: 401, code: 'invalid_token' });
  });
});

describe('secrets never stored or logged', () => {
  test('no password, private key or token appears in MongoDB, Redis or the logs', async () => {
    const password = 'Sekrit-Passw0rd-7f3a9c';
    const identity = await generateIdentityKeys();
    const pub = await exportPublicKeys(identity);
    const jwk = await exportIdentityKeysJwk(identity);
    const pkcs8 = async (k: CryptoKey) =>
      toBase64(new Uint8Array(await crypto.subtle.exportKey('pkcs8', k)));
    const privateStrings = [
      await pkcs8(identity.wrapping.privateKey),
      await pkcs8(identity.signing.privateKey),
      String(jwk.wrapping.privateKey.d),
      String(jwk.signing.privateKey.d),
      String(jwk.wrapping.privateKey.p),
    ];

    const s = await register(h.app, 'secretive', pub, password);
    const tokens = [s.accessToken, s.refreshToken];
    const login = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { username: 'secretive', password },
    });
    tokens.push(login.json<Session>().accessToken, login.json<Session>().refreshToken);
    // Failed logins and refused bodies carry secrets too; they must not be echoed anywhere.
    await h.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { username: 'secretive', password: `${password}x` },
    });
    const leaky = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/register',
      payload: {
        username: 'leaky',
        password,
        keys: pub,
        privateKey: privateStrings[0],
      },
    });
    assert.deepEqual(errorOf(leaky), { status: 400, code: 'validation_failed' });
    const asPublic = await call(h.app, 'PUT', '/v1/me/keys', s, {
      keys: { wrappingKey: pub.wrappingKey, signingKey: privateStrings[1] },
      password,
    });
    assert.deepEqual(errorOf(asPublic), { status: 400, code: 'invalid_key' });
    assert.ok(!asPublic.body.includes(privateStrings[1]!));
    const refreshed = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/refresh',
      payload: { refreshToken: s.refreshToken },
    });
    tokens.push(refreshed.json<Session>().refreshToken);
    await call(h.app, 'DELETE', '/v1/me', login.json<Session>(), { password: 'wrong on purpose' });

    const db = Object.values(await dumpDb(h.db)).join('\n');
    const redis = await dumpRedis(h);
    const logs = h.logs();
    assert.ok(logs.length > 1000, 'logs were captured');
    assert.ok(db.includes('secretive'), 'the database was dumped');
    const secrets: Array<[string, string]> = [
      ['password', password],
      ...privateStrings.map((p, i): [string, string] => [`private key ${i}`, p]),
      ...tokens.map((t, i): [string, string] => [`token ${i}`, t]),
    ];
    for (const [what, secret] of secrets) {
      assert.ok(!db.includes(secret), `${what} is in MongoDB`);
      assert.ok(!redis.includes(secret), `${what} is in Redis`);
      assert.ok(!logs.includes(secret), `${what} is in the logs`);
    }
  });
});
