/**
 * The v2 key directory (issue 16) against real FerretDB and Redis: uploads checked whole
 * (signatures by the published signing key, X25519 keys, ids), bundles that hand out each
 * one-time prekey once even to concurrent fetches, the status count, the rate limit, key
 * changes and account deletion.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  exportPublicKeys,
  exportX25519PublicKey,
  generateIdentityKeys,
  generateX25519KeyPair,
  importSigningPublicKey,
  signPrekey,
  toBase64,
  verifyPrekey,
  type IdentityKeys,
} from '@gossip/crypto';
import {
  API_PATHS,
  MAX_ONE_TIME_PREKEYS_PER_UPLOAD,
  MAX_ONE_TIME_PREKEYS_STORED,
  PrekeyBundle,
  PrekeyStatus,
  apiPath,
  type PublicKeys,
  type Session,
  type UploadPrekeysRequest,
} from '@gossip/protocol';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { PASSWORD, bearer, errorOf, register, startApi, type Harness } from './helpers.js';

/** Bundle fetches one requester may make per window in this file's api. */
const BUNDLES_PER_USER = 5;
/** Uploads one user may make per window in this file's api (the most any other test makes is 9). */
const UPLOADS_PER_USER = 20;

const isBundle = TypeCompiler.Compile(PrekeyBundle);
const isStatus = TypeCompiler.Compile(PrekeyStatus);

let h: Harness;
let n = 0;

before(async () => {
  h = await startApi({
    API_PREKEY_BUNDLE_MAX_PER_USER: String(BUNDLES_PER_USER),
    API_PREKEY_UPLOAD_MAX_PER_USER: String(UPLOADS_PER_USER),
  });
});
after(() => h.close());

/** A registered account with its private identity, as a client holds it. */
interface Account {
  name: string;
  session: Session;
  identity: IdentityKeys;
  keys: PublicKeys;
}

async function account(prefix: string): Promise<Account> {
  const identity = await generateIdentityKeys();
  const keys = await exportPublicKeys(identity);
  const name = `${prefix}_${++n}`;
  return { name, session: await register(h.app, name, keys), identity, keys };
}

/** Everything a client generated: the upload body and, only to search for, the private parts. */
interface Generated {
  body: UploadPrekeysRequest;
  privateJwks: string[];
}

async function x25519(privateJwks: string[]): Promise<string> {
  const pair = await generateX25519KeyPair();
  const jwk = await globalThis.crypto.subtle.exportKey('jwk', pair.privateKey);
  privateJwks.push(jwk.d!, toBase64(Buffer.from(jwk.d!, 'base64url')));
  return exportX25519PublicKey(pair.publicKey);
}

/** A full, correctly signed upload: identity key, signed prekey `signedId`, one-time `ids`. */
async function generate(
  a: Account,
  signedId: number,
  ids: number[],
  identityKey?: UploadPrekeysRequest['identityKey'],
): Promise<Generated> {
  const privateJwks: string[] = [];
  const signer = a.identity.signing.privateKey;
  let idKey = identityKey;
  if (!idKey) {
    const publicKey = await x25519(privateJwks);
    idKey = {
      publicKey,
      signature: await signPrekey(signer, { kind: 'identity', id: 0, publicKey }),
    };
  }
  const spk = await x25519(privateJwks);
  const oneTimePrekeys = [];
  for (const id of ids) oneTimePrekeys.push({ id, publicKey: await x25519(privateJwks) });
  return {
    body: {
      identityKey: idKey,
      signedPrekey: {
        id: signedId,
        publicKey: spk,
        signature: await signPrekey(signer, { kind: 'signed', id: signedId, publicKey: spk }),
      },
      oneTimePrekeys,
    },
    privateJwks,
  };
}

/** The upload `g` with one more one-time prekey at the end. */
function withOneTime(
  g: UploadPrekeysRequest,
  extra: NonNullable<UploadPrekeysRequest['oneTimePrekeys']>[number],
): UploadPrekeysRequest {
  return { ...g, oneTimePrekeys: [...g.oneTimePrekeys!, extra] };
}

function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

function upload(a: Account, body: unknown) {
  return h.app.inject({
    method: 'PUT',
    url: API_PATHS.myPrekeys,
    headers: bearer(a.session),
    payload: body as object,
  });
}

async function status(a: Account): Promise<PrekeyStatus> {
  const res = await h.app.inject({
    method: 'GET',
    url: API_PATHS.myPrekeys,
    headers: bearer(a.session),
  });
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json<PrekeyStatus>();
  assert.ok(isStatus.Check(body), res.body);
  return body;
}

function fetchBundle(requester: Account, owner: string) {
  return h.app.inject({
    method: 'GET',
    url: apiPath(API_PATHS.userPrekeyBundle, owner),
    headers: bearer(requester.session),
  });
}

/** What the directory holds for `owner`: its user document's prekeys and its one-time prekeys. */
async function stored(owner: string) {
  const user = await h.db.collection('users').findOne({ _id: owner as never });
  const oneTime = await h.db.collection('prekeys').find({ owner }).sort({ id: 1 }).toArray();
  return { record: user?.prekeys as unknown, ids: oneTime.map((d) => d.id as number) };
}

/** Verifies a bundle as a client would: both signatures under the bundle's signing key. */
async function verifyBundle(b: PrekeyBundle): Promise<void> {
  assert.ok(isBundle.Check(b), JSON.stringify(b));
  const signingKey = await importSigningPublicKey(b.signingKey);
  assert.equal(
    await verifyPrekey(
      signingKey,
      { kind: 'identity', id: 0, publicKey: b.identityKey.publicKey },
      b.identityKey.signature,
    ),
    true,
  );
  assert.equal(
    await verifyPrekey(
      signingKey,
      { kind: 'signed', id: b.signedPrekey.id, publicKey: b.signedPrekey.publicKey },
      b.signedPrekey.signature,
    ),
    true,
  );
}

describe('upload and bundle', () => {
  test('a valid set uploads; a bundle verifies and hands out one one-time prekey', async () => {
    const alice = await account('alice');
    const bob = await account('bob');
    const g = await generate(alice, 7, range(1, 5));
    const res = await upload(alice, g.body);
    assert.equal(res.statusCode, 200, res.body);
    const after = res.json<PrekeyStatus>();
    assert.deepEqual(
      { ...after, signedPrekeyUpdatedAt: typeof after.signedPrekeyUpdatedAt },
      {
        published: true,
        identityKey: g.body.identityKey.publicKey,
        signedPrekeyId: 7,
        signedPrekeyUpdatedAt: 'string',
        oneTimePrekeys: 5,
        maxOneTimePrekeys: MAX_ONE_TIME_PREKEYS_STORED,
      },
    );
    assert.equal((await status(alice)).oneTimePrekeys, 5);

    const got = await fetchBundle(bob, alice.name);
    assert.equal(got.statusCode, 200, got.body);
    const bundle = got.json<PrekeyBundle>();
    await verifyBundle(bundle);
    assert.equal(bundle.username, alice.name);
    assert.equal(bundle.deviceId, 'main');
    assert.equal(bundle.signingKey, alice.keys.signingKey);
    assert.equal(bundle.wrappingKey, alice.keys.wrappingKey);
    assert.deepEqual(bundle.identityKey, g.body.identityKey);
    assert.deepEqual(bundle.signedPrekey, g.body.signedPrekey);
    const otk = bundle.oneTimePrekey;
    assert.ok(otk);
    assert.deepEqual(
      otk,
      g.body.oneTimePrekeys!.find((k) => k.id === otk.id),
    );
    // Handed out means gone: the count drops and the document is deleted.
    assert.equal((await status(alice)).oneTimePrekeys, 4);
    assert.ok(!(await stored(alice.name)).ids.includes(otk.id));

    // A top-up: same identity key, a new signed prekey (replacing the old), new ids.
    const top = await generate(alice, 8, range(6, 3), g.body.identityKey);
    const res2 = await upload(alice, top.body);
    assert.equal(res2.statusCode, 200, res2.body);
    assert.equal(res2.json<PrekeyStatus>().oneTimePrekeys, 7);
    const again = (await fetchBundle(bob, alice.name)).json<PrekeyBundle>();
    assert.deepEqual(again.signedPrekey, top.body.signedPrekey);
  });

  test('30 parallel fetches of 20 one-time prekeys: 20 distinct, none twice, 10 without', async () => {
    const carol = await account('carol');
    const g = await generate(carol, 1, range(100, 20));
    assert.equal((await upload(carol, g.body)).statusCode, 200);
    // Six requesters, five fetches each: within the per-requester limit.
    const requesters = await Promise.all(range(0, 6).map(() => account('fetcher')));
    const answers = await Promise.all(
      range(0, 30).map((i) => fetchBundle(requesters[i % 6]!, carol.name)),
    );
    const ids: number[] = [];
    let without = 0;
    for (const res of answers) {
      assert.equal(res.statusCode, 200, res.body);
      const b = res.json<PrekeyBundle>();
      assert.ok(isBundle.Check(b));
      if (b.oneTimePrekey) ids.push(b.oneTimePrekey.id);
      else without++;
    }
    assert.equal(ids.length, 20);
    assert.equal(new Set(ids).size, 20, `handed out twice: ${ids.sort((a, b) => a - b).join()}`);
    assert.deepEqual(
      [...ids].sort((a, b) => a - b),
      range(100, 20),
    );
    assert.equal(without, 10);
    assert.deepEqual((await stored(carol.name)).ids, []);
    assert.equal((await status(carol)).oneTimePrekeys, 0);
    // Exhausted: the bundle still serves the signed prekey, which X3DH falls back to.
    const more = await account('late');
    const last = await fetchBundle(more, carol.name);
    const b = last.json<PrekeyBundle>();
    await verifyBundle(b);
    assert.equal(b.oneTimePrekey, undefined);
    assert.deepEqual(b.signedPrekey, g.body.signedPrekey);
  });

  test('bundles need a session, an existing user and published v2 keys', async () => {
    const dave = await account('dave');
    const anon = await h.app.inject({
      method: 'GET',
      url: apiPath(API_PATHS.userPrekeyBundle, dave.name),
    });
    assert.deepEqual(errorOf(anon), { status: 401, code: 'unauthorized' });
    const asker = await account('asker');
    assert.deepEqual(errorOf(await fetchBundle(asker, 'nobody_here')), {
      status: 404,
      code: 'user_not_found',
    });
    assert.deepEqual(errorOf(await fetchBundle(asker, dave.name)), {
      status: 404,
      code: 'prekeys_not_found',
    });
    assert.deepEqual(await status(dave), {
      published: false,
      identityKey: null,
      signedPrekeyId: null,
      signedPrekeyUpdatedAt: null,
      oneTimePrekeys: 0,
      maxOneTimePrekeys: MAX_ONE_TIME_PREKEYS_STORED,
    });
  });

  test('fetches are rate limited per requester with 429 and Retry-After', async () => {
    const erin = await account('erin');
    assert.equal(
      (await upload(erin, (await generate(erin, 1, range(1, 10))).body)).statusCode,
      200,
    );
    const greedy = await account('greedy');
    for (let i = 0; i < BUNDLES_PER_USER; i++) {
      assert.equal((await fetchBundle(greedy, erin.name)).statusCode, 200);
    }
    const refused = await fetchBundle(greedy, erin.name);
    assert.deepEqual(errorOf(refused), { status: 429, code: 'rate_limited' });
    assert.ok(Number(refused.headers['retry-after']) >= 1);
    // The refused fetch took nothing; another requester still gets one.
    assert.equal((await status(erin)).oneTimePrekeys, 10 - BUNDLES_PER_USER);
    assert.equal((await fetchBundle(await account('polite'), erin.name)).statusCode, 200);
    assert.equal((await status(erin)).oneTimePrekeys, 10 - BUNDLES_PER_USER - 1);
    // Unknown users count too, so the limit also bounds probing.
    const prober = await account('prober');
    for (let i = 0; i < BUNDLES_PER_USER; i++) await fetchBundle(prober, `ghost_${i}`);
    assert.equal((await fetchBundle(prober, erin.name)).statusCode, 429);
  });
});

test('uploads are rate limited per user with 429 and Retry-After, refused ones counted', async () => {
  const kim = await account('kim');
  const first = await generate(kim, 1, [1]);
  assert.equal((await upload(kim, first.body)).statusCode, 200);
  // Refused uploads count too: half of the rest carry a signature by another key.
  const stranger = await generateIdentityKeys();
  for (let i = 2; i <= UPLOADS_PER_USER; i++) {
    const next = await generate(kim, i, [i], first.body.identityKey);
    if (i % 2 === 0) {
      const bad = await generate({ ...kim, identity: stranger }, i, [i], first.body.identityKey);
      next.body.signedPrekey = bad.body.signedPrekey;
      assert.equal(errorOf(await upload(kim, next.body)).code, 'invalid_prekey_signature');
    } else {
      assert.equal((await upload(kim, next.body)).statusCode, 200);
    }
  }
  const before = await stored(kim.name);
  const over = await generate(kim, 500, [500], first.body.identityKey);
  const refused = await upload(kim, over.body);
  assert.deepEqual(errorOf(refused), { status: 429, code: 'rate_limited' });
  const retryAfter = Number(refused.headers['retry-after']);
  assert.ok(retryAfter >= 1 && retryAfter <= 3600, `Retry-After ${retryAfter}`);
  // Nothing of the refused upload is stored; the directory still serves kim's bundle.
  assert.deepEqual(await stored(kim.name), before);
  assert.ok(!before.ids.includes(500));
  const b = await fetchBundle(await account('kims_friend'), kim.name);
  assert.equal(b.statusCode, 200, b.body);
  assert.notEqual(b.json<PrekeyBundle>().signedPrekey.id, 500);
  // Per user: another account uploads as before; bodies the schema refuses (no key
  // import) are not counted.
  const lee = await account('lee');
  for (let i = 0; i <= UPLOADS_PER_USER; i++) {
    assert.deepEqual(errorOf(await upload(lee, { identityKey: 'x' })), {
      status: 400,
      code: 'validation_failed',
    });
  }
  assert.equal((await upload(lee, (await generate(lee, 1, [1])).body)).statusCode, 200);
});

describe('refused uploads store nothing', () => {
  let frank: Account;
  let good: Generated;
  let baseline: Awaited<ReturnType<typeof stored>>;

  /** What is wrong, how a good upload is spoilt, the code it gets. */
  const refusals: Array<
    [string, (g: UploadPrekeysRequest, a: Account) => Promise<unknown>, string]
  > = [
    [
      'identity key signed by another key',
      async (g) => {
        const other = await generateIdentityKeys();
        return {
          ...g,
          identityKey: {
            publicKey: g.identityKey.publicKey,
            signature: await signPrekey(other.signing.privateKey, {
              kind: 'identity',
              id: 0,
              publicKey: g.identityKey.publicKey,
            }),
          },
        };
      },
      'invalid_prekey_signature',
    ],
    [
      'signed prekey signature over another id',
      async (g, a) => ({
        ...g,
        signedPrekey: {
          ...g.signedPrekey,
          signature: await signPrekey(a.identity.signing.privateKey, {
            kind: 'signed',
            id: g.signedPrekey.id + 1,
            publicKey: g.signedPrekey.publicKey,
          }),
        },
      }),
      'invalid_prekey_signature',
    ],
    [
      'the identity signature reused for the signed prekey (kind differs)',
      async (g, a) => {
        const pk = g.signedPrekey.publicKey;
        return {
          ...g,
          signedPrekey: {
            ...g.signedPrekey,
            signature: await signPrekey(a.identity.signing.privateKey, {
              kind: 'identity',
              id: 0,
              publicKey: pk,
            }),
          },
        };
      },
      'invalid_prekey_signature',
    ],
    [
      'a one-time prekey that is an Ed25519 SPKI, not raw X25519',
      async (g, a) => withOneTime(g, { id: 999, publicKey: a.keys.signingKey }),
      'invalid_key',
    ],
    [
      'a 31-byte one-time prekey',
      async (g) => withOneTime(g, { id: 998, publicKey: toBase64(new Uint8Array(31).fill(9)) }),
      'invalid_key',
    ],
    [
      'an id repeated in the upload',
      async (g) =>
        withOneTime(g, { ...g.oneTimePrekeys![0]!, publicKey: g.oneTimePrekeys![1]!.publicKey }),
      'prekey_id_taken',
    ],
  ];

  before(async () => {
    frank = await account('frank');
    // A first set is stored, so "nothing stored" means "nothing changed".
    good = await generate(frank, 1, range(1, 3));
    assert.equal((await upload(frank, good.body)).statusCode, 200);
  });

  test('bad signatures, non-X25519 keys and repeated ids are refused whole', async () => {
    baseline = await stored(frank.name);
    assert.deepEqual(baseline.ids, [1, 2, 3]);
    for (const [what, mutate, code] of refusals) {
      const fresh = await generate(frank, 2, range(10, 4), good.body.identityKey);
      const body = await mutate(fresh.body, frank);
      const res = await upload(frank, body);
      assert.equal(errorOf(res).code, code, `${what}: ${res.body}`);
      assert.equal(res.statusCode, code === 'prekey_id_taken' ? 409 : 400, what);
      assert.deepEqual(await stored(frank.name), baseline, `${what}: nothing stored`);
    }
  });

  test('an id already stored is refused and the rest of the upload is not stored', async () => {
    const fresh = await generate(frank, 2, [20, 21, 2, 22], good.body.identityKey);
    const res = await upload(frank, fresh.body);
    assert.deepEqual(errorOf(res), { status: 409, code: 'prekey_id_taken' });
    assert.match(res.json<{ error: { message: string } }>().error.message, /\b2\b/);
    assert.deepEqual(await stored(frank.name), baseline);
  });

  test('the identity key only changes with a key change', async () => {
    const other = await generate(frank, 3, range(30, 2));
    const res = await upload(frank, other.body);
    assert.deepEqual(errorOf(res), { status: 409, code: 'identity_key_conflict' });
    assert.deepEqual(await stored(frank.name), baseline);
  });

  test('the cap on stored one-time prekeys', async () => {
    const gina = await account('gina');
    const first = await generate(gina, 1, range(1, MAX_ONE_TIME_PREKEYS_PER_UPLOAD));
    assert.equal((await upload(gina, first.body)).statusCode, 200);
    const second = await generate(
      gina,
      1,
      range(
        1 + MAX_ONE_TIME_PREKEYS_PER_UPLOAD,
        MAX_ONE_TIME_PREKEYS_STORED - MAX_ONE_TIME_PREKEYS_PER_UPLOAD,
      ),
      first.body.identityKey,
    );
    // The same signed prekey id with another key is refused; with the same key it passes.
    const clash = await upload(gina, second.body);
    assert.deepEqual(errorOf(clash), { status: 409, code: 'prekey_id_taken' });
    second.body.signedPrekey = first.body.signedPrekey;
    assert.equal((await upload(gina, second.body)).statusCode, 200);
    assert.equal((await status(gina)).oneTimePrekeys, MAX_ONE_TIME_PREKEYS_STORED);
    const over = await generate(gina, 2, [5000], first.body.identityKey);
    assert.deepEqual(errorOf(await upload(gina, over.body)), {
      status: 403,
      code: 'prekey_limit_exceeded',
    });
    assert.equal((await stored(gina.name)).ids.length, MAX_ONE_TIME_PREKEYS_STORED);
    const tooMany = await generate(
      gina,
      2,
      range(6000, MAX_ONE_TIME_PREKEYS_PER_UPLOAD + 1),
      first.body.identityKey,
    );
    assert.deepEqual(errorOf(await upload(gina, tooMany.body)), {
      status: 400,
      code: 'validation_failed',
    });
  });
});

describe('key changes, deletion and what the server sees', () => {
  test('a key change withdraws the prekeys until a set signed by the new key arrives', async () => {
    const hank = await account('hank');
    const g = await generate(hank, 1, range(1, 4));
    assert.equal((await upload(hank, g.body)).statusCode, 200);
    const identity = await generateIdentityKeys();
    const keys = await exportPublicKeys(identity);
    const put = await h.app.inject({
      method: 'PUT',
      url: API_PATHS.myKeys,
      headers: bearer(hank.session),
      payload: { keys, password: PASSWORD },
    });
    assert.equal(put.statusCode, 200, put.body);
    const asker = await account('asker');
    assert.deepEqual(errorOf(await fetchBundle(asker, hank.name)), {
      status: 404,
      code: 'prekeys_not_found',
    });
    const s = await status(hank);
    assert.equal(s.published, false);
    assert.equal(s.oneTimePrekeys, 0);
    // The old set, signed by the old key, no longer verifies.
    assert.deepEqual(errorOf(await upload(hank, g.body)), {
      status: 400,
      code: 'invalid_prekey_signature',
    });
    // A new identity key signed by the new signing key is accepted; the old one-time
    // prekeys are gone and their ids free again.
    const renewed = { ...hank, identity, keys };
    const next = await generate(renewed, 1, range(1, 2));
    assert.equal((await upload(renewed, next.body)).statusCode, 200);
    assert.deepEqual((await stored(hank.name)).ids, [1, 2]);
    const b = (await fetchBundle(asker, hank.name)).json<PrekeyBundle>();
    await verifyBundle(b);
    assert.equal(b.signingKey, keys.signingKey);
    assert.equal(b.keyVersion, 2);
    assert.deepEqual(b.identityKey, next.body.identityKey);
  });

  test('deleting the account removes its prekeys', async () => {
    const ivy = await account('ivy');
    assert.equal((await upload(ivy, (await generate(ivy, 1, range(1, 6))).body)).statusCode, 200);
    assert.equal((await stored(ivy.name)).ids.length, 6);
    const del = await h.app.inject({
      method: 'DELETE',
      url: API_PATHS.me,
      headers: bearer(ivy.session),
      payload: { password: PASSWORD },
    });
    assert.equal(del.statusCode, 204, del.body);
    assert.equal(await h.db.collection('prekeys').countDocuments({ owner: ivy.name }), 0);
    assert.equal(await h.db.collection('users').countDocuments({ _id: ivy.name as never }), 0);
  });

  test('no private key material reaches the api: not in MongoDB, Redis or its logs', async () => {
    const jack = await account('jack');
    const g = await generate(jack, 1, range(1, 8));
    const body = JSON.stringify(g.body);
    assert.equal((await upload(jack, g.body)).statusCode, 200);
    await fetchBundle(await account('reader'), jack.name);
    const dump = await mongoDump();
    const redis = await redisDump();
    const logs = h.logs();
    // The check can fail: the stored public keys are there, in these very searches.
    assert.ok(dump.includes(g.body.signedPrekey.publicKey));
    // Redis holds this api's rate-limit counters (hashed subjects), the upload's among them.
    assert.ok(redis.length > 0, 'no Redis keys under the prefix: the search would be empty');
    assert.equal(g.privateJwks.length, 2 * 10);
    for (const secret of g.privateJwks) {
      assert.ok(!body.includes(secret), 'a private key in the upload body');
      assert.ok(!dump.includes(secret), 'a private key in MongoDB');
      assert.ok(!redis.includes(secret), 'a private key in Redis');
      assert.ok(!logs.includes(secret), 'a private key in the logs');
    }
  });

  test('an upload carrying private keys by mistake is refused and neither stored nor logged', async () => {
    const kate = await account('kate');
    const pair = await generateX25519KeyPair();
    const subtle = globalThis.crypto.subtle;
    const pkcs8 = toBase64(new Uint8Array(await subtle.exportKey('pkcs8', pair.privateKey)));
    const d = (await subtle.exportKey('jwk', pair.privateKey)).d!;
    const good = await generate(kate, 1, range(1, 2));
    const secrets = [pkcs8, d, toBase64(Buffer.from(d, 'base64url'))];
    // A client that sends the PKCS#8 private key (64 characters, within the schema's
    // length) in place of the public key, or the JWK's base64url `d` (not base64).
    const pkcs8Upload = withOneTime(good.body, { id: 50, publicKey: pkcs8 });
    const jwkUpload = withOneTime(good.body, { id: 51, publicKey: d });
    const pkcs8Res = await upload(kate, pkcs8Upload);
    assert.deepEqual(errorOf(pkcs8Res), { status: 400, code: 'invalid_key' });
    const jwkRes = await upload(kate, jwkUpload);
    assert.deepEqual(errorOf(jwkRes), { status: 400, code: 'validation_failed' });
    assert.ok(!pkcs8Res.body.includes(pkcs8) && !jwkRes.body.includes(d), 'a key echoed back');
    assert.deepEqual((await stored(kate.name)).ids, []);
    const [dump, redis, logs] = [await mongoDump(), await redisDump(), h.logs()];
    // The refusals were logged (so the log search reads the right lines).
    assert.match(logs, /invalid_key/);
    for (const secret of secrets) {
      assert.ok(!dump.includes(secret), 'a private key in MongoDB');
      assert.ok(!redis.includes(secret), 'a private key in Redis');
      assert.ok(!logs.includes(secret), 'a private key in the logs');
    }
  });
});

/** Every document of the api's database, as one string to search. */
async function mongoDump(): Promise<string> {
  const all = [];
  for (const { name } of await h.db.listCollections().toArray()) {
    all.push(await h.db.collection(name).find({}).toArray());
  }
  return JSON.stringify(all);
}

/** Every key and value this api wrote to Redis (under its prefix), as one string. */
async function redisDump(): Promise<string> {
  const out: string[] = [];
  for (const key of await h.redis.keys(`${h.config.redisPrefix}*`)) {
    const type = await h.redis.type(key);
    const value =
      type === 'string'
        ? await h.redis.get(key)
        : type === 'hash'
          ? JSON.stringify(await h.redis.hgetall(key))
          : type;
    out.push(`${key}=${value}`);
  }
  return out.join('\n');
}
