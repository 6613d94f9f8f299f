/**
 * Key directory, profiles, search and avatars against real FerretDB (GridFS) and Redis.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fingerprint } from '@gossip/crypto';
import {
  MAX_AVATAR_BYTES,
  type KeysResponse,
  type Me,
  type SearchResponse,
  type Session,
} from '@gossip/protocol';
import {
  PASSWORD,
  bearer,
  call,
  errorOf,
  keySets,
  register,
  startApi,
  weakRsaSpki,
  type Harness,
} from './helpers.js';

let h: Harness;
let keys: Awaited<ReturnType<typeof keySets>>;
let alice: Session;
let bob: Session;

before(async () => {
  keys = await keySets();
  h = await startApi();
  alice = await register(h.app, 'alice', keys[0]!);
  bob = await register(h.app, 'bob', keys[1]!);
});
after(() => h.close());

describe('key directory', () => {
  test('anyone signed in fetches a user’s keys with the crypto package’s fingerprint', async () => {
    const res = await call(h.app, 'GET', '/v1/users/alice/keys', bob);
    assert.equal(res.statusCode, 200);
    const body = res.json<KeysResponse>();
    assert.deepEqual(body.keys, keys[0]);
    assert.equal(body.keyVersion, 1);
    assert.equal(body.fingerprint, await fingerprint({ username: 'alice', ...keys[0]! }));
    assert.match(body.fingerprint, /^[0-9]{30}$/);
  });

  test('fetching keys needs a session and an existing user', async () => {
    const anon = await h.app.inject({ method: 'GET', url: '/v1/users/alice/keys' });
    assert.deepEqual(errorOf(anon), { status: 401, code: 'unauthorized' });
    const missing = await call(h.app, 'GET', '/v1/users/nobody/keys', bob);
    assert.deepEqual(errorOf(missing), { status: 404, code: 'user_not_found' });
  });

  test('a key change bumps the version and fingerprint and is visible to others', async () => {
    const s = await register(h.app, 'keychanger', keys[0]!);
    const before = (
      await call(h.app, 'GET', '/v1/users/keychanger/keys', bob)
    ).json<KeysResponse>();
    const put = await call(h.app, 'PUT', '/v1/me/keys', s, { keys: keys[1], password: PASSWORD });
    assert.equal(put.statusCode, 200);
    const seen = (await call(h.app, 'GET', '/v1/users/keychanger/keys', bob)).json<KeysResponse>();
    assert.equal(seen.keyVersion, 2);
    assert.deepEqual(seen.keys, keys[1]);
    assert.notEqual(seen.fingerprint, before.fingerprint);
    assert.equal(seen.fingerprint, await fingerprint({ username: 'keychanger', ...keys[1]! }));
  });

  test('a weak, malformed or swapped key is refused with invalid_key and nothing changes', async () => {
    const bad = [
      { ...keys[0]!, wrappingKey: weakRsaSpki() },
      { ...keys[0]!, wrappingKey: keys[0]!.signingKey },
      { ...keys[0]!, signingKey: keys[0]!.wrappingKey },
      { ...keys[0]!, signingKey: Buffer.from('not a key at all').toString('base64') },
    ];
    for (const k of bad) {
      const res = await call(h.app, 'PUT', '/v1/me/keys', alice, { keys: k, password: PASSWORD });
      assert.deepEqual(errorOf(res), { status: 400, code: 'invalid_key' });
      const reg = await h.app.inject({
        method: 'POST',
        url: '/v1/auth/register',
        payload: { username: 'weakling', password: 'long enough pw', keys: k },
      });
      assert.deepEqual(errorOf(reg), { status: 400, code: 'invalid_key' });
    }
    const still = (await call(h.app, 'GET', '/v1/users/alice/keys', bob)).json<KeysResponse>();
    assert.equal(still.keyVersion, 1);
    assert.equal(await h.db.collection('users').countDocuments({ _id: 'weakling' as never }), 0);
  });
});

describe('profiles', () => {
  test('display name: set, read by others, cleared', async () => {
    const set = await call(h.app, 'PATCH', '/v1/me/profile', alice, {
      displayName: 'Alice Æ. Liddell',
    });
    assert.equal(set.statusCode, 200);
    assert.equal(set.json<Me>().displayName, 'Alice Æ. Liddell');
    const other = await call(h.app, 'GET', '/v1/users/alice', bob);
    assert.deepEqual(other.json(), {
      username: 'alice',
      displayName: 'Alice Æ. Liddell',
      hasAvatar: false,
    });
    const clear = await call(h.app, 'PATCH', '/v1/me/profile', alice, { displayName: null });
    assert.equal(clear.json<Me>().displayName, null);
  });
});

describe('search', () => {
  before(async () => {
    for (const name of ['sea_a', 'sea_b', 'sea_c', 'sea_d', 'sea_e', 'seb_x']) {
      await register(h.app, name, keys[0]!);
    }
  });

  test('prefix search pages in username order without gaps or repeats', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const q: string = after ? `&after=${after}` : '';
      const res = await call(h.app, 'GET', `/v1/users?prefix=sea_&limit=2${q}`, alice);
      assert.equal(res.statusCode, 200);
      const body = res.json<SearchResponse>();
      assert.ok(body.users.length <= 2);
      seen.push(...body.users.map((u) => u.username));
      after = body.next;
      pages++;
    } while (after && pages < 10);
    assert.deepEqual(seen, ['sea_a', 'sea_b', 'sea_c', 'sea_d', 'sea_e']);
    assert.equal(pages, 3);
  });

  test('search results carry only public profile fields', async () => {
    const res = await call(h.app, 'GET', '/v1/users?prefix=se', alice);
    const body = res.json<SearchResponse>();
    assert.equal(body.users.length, 6);
    for (const u of body.users)
      assert.deepEqual(Object.keys(u).sort(), ['displayName', 'hasAvatar', 'username']);
    assert.ok(!res.body.includes('passwordHash') && !res.body.includes('uid'));
  });
});

describe('avatars', () => {
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    Buffer.alloc(1000, 7),
  ]);
  const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(500, 1)]);

  function upload(body: Buffer, contentType: string, s: Session = alice) {
    return h.app.inject({
      method: 'PUT',
      url: '/v1/me/avatar',
      headers: { ...bearer(s), 'content-type': contentType },
      payload: body,
    });
  }

  test('a PNG uploads to GridFS and downloads byte for byte with its type', async () => {
    const res = await upload(png, 'image/png');
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json<Me>().hasAvatar, true);
    const get = await call(h.app, 'GET', '/v1/users/alice/avatar', bob);
    assert.equal(get.statusCode, 200);
    assert.equal(get.headers['content-type'], 'image/png');
    assert.deepEqual(get.rawPayload, png);
    assert.equal(
      await h.db.collection('avatars.files').countDocuments({ 'metadata.owner': 'alice' }),
      1,
    );
  });

  test('replacing an avatar leaves one file; deleting leaves none', async () => {
    assert.equal((await upload(jpeg, 'image/jpeg')).statusCode, 200);
    assert.equal(
      await h.db.collection('avatars.files').countDocuments({ 'metadata.owner': 'alice' }),
      1,
    );
    const get = await call(h.app, 'GET', '/v1/users/alice/avatar', bob);
    assert.equal(get.headers['content-type'], 'image/jpeg');
    const del = await call(h.app, 'DELETE', '/v1/me/avatar', alice);
    assert.equal(del.json<Me>().hasAvatar, false);
    assert.equal(
      await h.db.collection('avatars.files').countDocuments({ 'metadata.owner': 'alice' }),
      0,
    );
    assert.equal(await h.db.collection('avatars.chunks').countDocuments({}), 0);
    const gone = await call(h.app, 'GET', '/v1/users/alice/avatar', bob);
    assert.deepEqual(errorOf(gone), { status: 404, code: 'avatar_not_found' });
  });

  test('the size limit: exactly the maximum passes, one byte more is 413', async () => {
    const max = Buffer.concat([png.subarray(0, 8), Buffer.alloc(MAX_AVATAR_BYTES - 8, 1)]);
    assert.equal((await upload(max, 'image/png', bob)).statusCode, 200);
    const over = Buffer.concat([max, Buffer.from([0])]);
    const res = await upload(over, 'image/png', bob);
    assert.deepEqual(errorOf(res), { status: 413, code: 'payload_too_large' });
    const stored = await h.db
      .collection('avatars.files')
      .find({ 'metadata.owner': 'bob' })
      .toArray();
    assert.equal(stored.length, 1);
    assert.equal(stored[0]?.length, MAX_AVATAR_BYTES);
  });

  test('wrong types are refused and store nothing', async () => {
    const s = await register(h.app, 'avatar_less', keys[0]!);
    const cases: Array<[Buffer, string, number, string]> = [
      [
        Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'),
        'image/svg+xml',
        415,
        'unsupported_media_type',
      ],
      [Buffer.from('GIF89a....'), 'image/gif', 415, 'unsupported_media_type'],
      [Buffer.from('just text, not a png'), 'image/png', 400, 'invalid_image'],
      [jpeg, 'image/png', 400, 'invalid_image'],
      [Buffer.alloc(0), 'image/png', 400, 'invalid_image'],
    ];
    for (const [body, type, status, code] of cases) {
      const res = await upload(body, type, s);
      assert.deepEqual(
        errorOf(res),
        { status, code },
        `${type} ${body.subarray(0, 8).toString('hex')}`,
      );
    }
    const json = await call(h.app, 'PUT', '/v1/me/avatar', s, { image: 'x' });
    assert.deepEqual(errorOf(json), { status: 415, code: 'unsupported_media_type' });
    assert.equal(
      await h.db.collection('avatars.files').countDocuments({ 'metadata.owner': 'avatar_less' }),
      0,
    );
  });
});
