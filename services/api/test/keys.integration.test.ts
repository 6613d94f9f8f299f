/**
 * Key changes against real FerretDB and Redis: `PUT /v1/me/keys` needs the password, is
 * rate limited, keeps the continuity proof (new keys signed by the previous signing key)
 * after checking it, and tells the owner's other sessions as well as the contacts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  exportPublicKeys,
  generateIdentityKeys,
  signKeyChange,
  verifyKeyChange,
  type IdentityKeys,
} from '@gossip/crypto';
import type { EventDoc, KeysResponse, PublicKeys, Session } from '@gossip/protocol';
import { PASSWORD, bearer, errorOf, register, startApi, type Harness } from './helpers.js';

let h: Harness;
let ids: IdentityKeys[];
let pubs: PublicKeys[];
let viewer: Session;

const KEY_CHANGES_PER_USER = 4;

before(async () => {
  ids = await Promise.all([generateIdentityKeys(), generateIdentityKeys(), generateIdentityKeys()]);
  pubs = await Promise.all(ids.map((k) => exportPublicKeys(k)));
  h = await startApi({ API_KEY_CHANGE_MAX_PER_USER: String(KEY_CHANGES_PER_USER) });
  viewer = await register(h.app, 'viewer', pubs[2]!);
});
after(() => h.close());

function put(s: Session, payload: Record<string, unknown>) {
  return h.app.inject({ method: 'PUT', url: '/v1/me/keys', headers: bearer(s), payload });
}

async function keysOf(username: string): Promise<KeysResponse> {
  const res = await h.app.inject({
    method: 'GET',
    url: `/v1/users/${username}/keys`,
    headers: bearer(viewer),
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.json<KeysResponse>();
}

function proof(username: string, from: number, to: number): Promise<string> {
  return signKeyChange(
    { username, previousSigningKey: pubs[from]!.signingKey, next: pubs[to]! },
    ids[from]!.signing.privateKey,
  );
}

describe('PUT /v1/me/keys', () => {
  test('a key change without the password, or with a wrong one, changes nothing', async () => {
    const s = await register(h.app, 'pw_check', pubs[0]!);
    assert.deepEqual(errorOf(await put(s, { keys: pubs[1] })), {
      status: 400,
      code: 'validation_failed',
    });
    assert.deepEqual(errorOf(await put(s, { keys: pubs[1], password: 'not the password' })), {
      status: 401,
      code: 'invalid_credentials',
    });
    const still = await keysOf('pw_check');
    assert.equal(still.keyVersion, 1);
    assert.deepEqual(still.keys, pubs[0]);
  });

  test('key changes are rate limited per user, right password or not', async () => {
    const s = await register(h.app, 'rl_check', pubs[0]!);
    for (let i = 0; i < KEY_CHANGES_PER_USER; i++) {
      const res = await put(s, { keys: pubs[i % 2 === 0 ? 1 : 0], password: 'wrong guess' });
      assert.equal(errorOf(res).code, 'invalid_credentials');
    }
    const limited = await put(s, { keys: pubs[1], password: PASSWORD });
    assert.deepEqual(errorOf(limited), { status: 429, code: 'rate_limited' });
    assert.ok(Number(limited.headers['retry-after']) > 0);
    assert.equal((await keysOf('rl_check')).keyVersion, 1);
    // Another user's budget is untouched.
    const other = await register(h.app, 'rl_other', pubs[0]!);
    assert.equal((await put(other, { keys: pubs[1], password: PASSWORD })).statusCode, 200);
  });

  test('a signed change is kept with its proof; clients can check each step of the chain', async () => {
    const s = await register(h.app, 'signer', pubs[0]!);
    const res = await put(s, {
      keys: pubs[1],
      password: PASSWORD,
      proof: await proof('signer', 0, 1),
    });
    assert.equal(res.statusCode, 200, res.body);
    // A second change, unsigned (a lost device): served as a step with a null proof.
    assert.equal((await put(s, { keys: pubs[2], password: PASSWORD })).statusCode, 200);
    const seen = await keysOf('signer');
    assert.equal(seen.keyVersion, 3);
    assert.deepEqual(seen.keys, pubs[2]);
    assert.equal(seen.keyChain?.length, 2);
    const [first, second] = seen.keyChain ?? [];
    assert.equal(first?.keyVersion, 2);
    assert.deepEqual(first?.keys, pubs[1]);
    assert.equal(
      await verifyKeyChange(
        { username: 'signer', previousSigningKey: pubs[0]!.signingKey, next: pubs[1]! },
        first?.proof ?? '',
      ),
      true,
    );
    assert.deepEqual(second, { keyVersion: 3, keys: pubs[2], proof: null });
  });

  test('a proof not made by the current signing key is refused with invalid_key_proof', async () => {
    const s = await register(h.app, 'forger', pubs[0]!);
    // Signed by the NEW key (what someone without the old private key could make) ...
    const selfSigned = await signKeyChange(
      { username: 'forger', previousSigningKey: pubs[0]!.signingKey, next: pubs[1]! },
      ids[1]!.signing.privateKey,
    );
    // ... or a genuine proof for another account.
    const otherUsers = await proof('someone_else', 0, 1);
    for (const bad of [selfSigned, otherUsers]) {
      const res = await put(s, { keys: pubs[1], password: PASSWORD, proof: bad });
      assert.deepEqual(errorOf(res), { status: 400, code: 'invalid_key_proof' });
    }
    const still = await keysOf('forger');
    assert.equal(still.keyVersion, 1);
    assert.deepEqual(still.keyChain, []);
  });

  test('the owner’s other sessions get a key-changed event from themselves', async () => {
    const s = await register(h.app, 'owner_ev', pubs[0]!);
    assert.equal(
      (await put(s, { keys: pubs[1], password: PASSWORD, proof: await proof('owner_ev', 0, 1) }))
        .statusCode,
      200,
    );
    const ev = await h.db
      .collection<EventDoc>('events')
      .findOne({ to: 'owner_ev', from: 'owner_ev', event: 'key-changed' });
    assert.equal(ev?.keyVersion, 2);
  });
});
