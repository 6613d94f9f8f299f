/**
 * The SDK against the real api process (FerretDB + Redis from the test environment):
 * two users register, fetch and pin each other's keys, see the same safety number,
 * detect a key change, start a conversation and decrypt; plus session refresh and
 * the contact calls.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { exportIdentityKeysJwk, fingerprint, fromBase64, fromUtf8 } from '@gossip/crypto';
import { MongoClient } from 'mongodb';
import { testEnv } from '@gossip/testenv';
import { ApiClient } from '../src/api.js';
import { ApiError, KeyChangedError, NetworkError } from '../src/errors.js';
import { GossipClient } from '../src/gossip.js';
import { MemoryKeyStore } from '../src/keystore.js';
import { startApiProcess, type RunningApi } from './api-process.js';

let api: RunningApi;
const suffix = Math.random().toString(36).slice(2, 8);
const ALICE = `alice_${suffix}`;
const BOB = `bob_${suffix}`;
const PASSWORDS = { [ALICE]: `alice-pw-${suffix}-secret`, [BOB]: `bob-pw-${suffix}-secret` };
const PLAINTEXT = `the eagle lands at dawn ${suffix}`;

function newClient(): GossipClient {
  return new GossipClient({
    api: new ApiClient({ baseUrl: api.url }),
    // Extractable, so the test can look for the private keys in the server's data.
    keyStore: new MemoryKeyStore({ extractable: true }),
    // v1: these tests follow key frames; v2 through the SDK is v2.integration.test.ts's.
    v2: false,
  });
}

let alice: GossipClient;
let bob: GossipClient;

before(async () => {
  // Access tokens live 2 s so the refresh path runs for real.
  api = await startApiProcess({ API_ACCESS_TOKEN_TTL_SECONDS: '2' });
  alice = newClient();
  bob = newClient();
  await alice.register({ username: ALICE, password: PASSWORDS[ALICE] as string });
  await bob.register({ username: BOB, password: PASSWORDS[BOB] as string });
});

after(async () => {
  await api?.stop();
});

test('both users fetch and pin each other’s keys and see the same safety number', async () => {
  const bobAsSeenByAlice = await alice.contactKeys(BOB);
  assert.deepEqual(
    { wrappingKey: bobAsSeenByAlice.wrappingKey, signingKey: bobAsSeenByAlice.signingKey },
    await bob.ownPublicKeys(),
  );
  await bob.contactKeys(ALICE);
  const a = await alice.safetyNumber(BOB);
  assert.equal(a, await bob.safetyNumber(ALICE));
  assert.match(a, /^(\d{5} ){11}\d{5}$/);
  // The directory's own fingerprint field is the same crypto fingerprint() the SDK computes.
  const res = await alice.api.getUserKeys(BOB);
  assert.equal(res.fingerprint, await fingerprint({ username: BOB, ...res.keys }));
  assert.equal(res.fingerprint, bobAsSeenByAlice.fingerprint);
});

test('contact life cycle through the SDK: request, accept with a key envelope, list', async () => {
  await alice.api.requestContact(BOB);
  const pending = await bob.api.listContacts();
  assert.equal(pending.contacts.find((c) => c.username === ALICE)?.state, 'incoming');
  const { keyId } = await bob.acceptContact(ALICE);
  assert.ok(keyId);
  const list = await alice.api.listContacts();
  assert.equal(list.contacts.find((c) => c.username === BOB)?.state, 'accepted');
});

test('alice starts a conversation, bob opens the key and decrypts; bodies carry no plaintext', async () => {
  const frames = await alice.prepareSend(BOB, PLAINTEXT);
  // Alice had no key yet for bob on her side (bob's accept envelope travels via the gateway,
  // which is another issue), so the first frame is her key message.
  assert.deepEqual(
    frames.map((f) => f.kind),
    ['key', 'message'],
  );
  for (const f of frames) assert.doesNotMatch(fromUtf8(fromBase64(f.body)), /eagle/);
  // Deliver as the gateway would: `from` comes from alice's authenticated session.
  for (const f of frames) {
    const opened = await bob.openDeliver({
      type: 'deliver',
      id: f.id,
      from: ALICE,
      sentAt: Date.now(),
      kind: f.kind,
      body: f.body,
    });
    if (opened.kind === 'message') assert.equal(opened.text, PLAINTEXT);
  }
  const reply = await bob.encrypt(ALICE, 'roger');
  const back = await alice.decrypt(BOB, reply.id, reply.body);
  assert.equal(fromUtf8(back.data), 'roger');
});

test('an expired access token is refreshed transparently', async () => {
  const before = alice.api.currentSession?.refreshToken;
  // Past the 2 s TTL even when the token's expiry was rounded up to the next whole second.
  await new Promise((r) => setTimeout(r, 3500));
  const me = await alice.api.me();
  assert.equal(me.username, ALICE);
  assert.notEqual(alice.api.currentSession?.refreshToken, before);
});

test('bob loses his keys and publishes new ones unsigned: alice sees an identity reset with old and new fingerprints, then trusts the compared one', async () => {
  const pinned = await alice.keyStore.getPinned(BOB);
  // A new device without bob's keys: the change cannot carry a continuity proof.
  const bobElsewhere = newClient();
  await bobElsewhere.login(BOB, PASSWORDS[BOB] as string);
  assert.equal((await bobElsewhere.changeKeys(PASSWORDS[BOB] as string)).signed, false);
  bob = bobElsewhere;
  const err = await alice.contactKeys(BOB).then(
    () => assert.fail('key change not detected'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof KeyChangedError, String(err));
  assert.equal(err.previousFingerprint, pinned?.fingerprint);
  assert.equal(
    err.currentFingerprint,
    await fingerprint({ username: BOB, ...(await bob.ownPublicKeys()) }),
  );
  assert.equal(err.identityReset, true);
  await alice.trustContactKeys(BOB, err.currentFingerprint);
  assert.equal(await alice.safetyNumber(BOB), await bob.safetyNumber(ALICE));
  // A new conversation under bob's new keys works end to end.
  const [keyFrame, msgFrame] = await alice.prepareSend(BOB, 'after the change');
  assert.ok(keyFrame && msgFrame);
  await bob.receiveKey(ALICE, keyFrame.body);
  assert.equal(
    fromUtf8((await bob.decrypt(ALICE, msgFrame.id, msgFrame.body)).data),
    'after the change',
  );
});

test('wrong password is invalid_credentials, the same as an unknown user', async () => {
  const c = newClient();
  const wrong = await c.api
    .login({ username: ALICE, password: 'not the password' })
    .catch((e: unknown) => e);
  const unknown = await c.api
    .login({ username: `nobody_${suffix}`, password: 'whatever1' })
    .catch((e: unknown) => e);
  assert.ok(wrong instanceof ApiError && wrong.code === 'invalid_credentials');
  assert.ok(unknown instanceof ApiError && unknown.code === 'invalid_credentials');
  assert.equal(wrong.message, unknown.message);
});

test('the server holds no private key and no password: database and logs', async () => {
  const secrets: string[] = Object.values(PASSWORDS);
  for (const c of [alice, bob]) {
    const jwk = await exportIdentityKeysJwk(await c.identity());
    secrets.push(jwk.wrapping.privateKey.d as string, jwk.signing.privateKey.d as string);
  }
  const mongo = new MongoClient(testEnv().mongoUrl);
  try {
    const db = mongo.db(api.env.API_MONGO_DB as string);
    let dump = '';
    for (const { name } of await db.listCollections().toArray()) {
      dump += JSON.stringify(await db.collection(name).find().toArray());
    }
    assert.ok(dump.includes(BOB), 'the dump should contain the users');
    for (const s of secrets) assert.ok(!dump.includes(s), 'a secret reached MongoDB');
    assert.ok(!dump.includes('eagle'));
  } finally {
    await mongo.close();
  }
  const logs = api.proc.output();
  for (const s of secrets) assert.ok(!logs.includes(s), 'a secret reached the logs');
});

test('a username deleted and registered again by someone else shows up as a key change', async () => {
  const EVE = `eve_${suffix}`;
  const first = newClient();
  await first.register({ username: EVE, password: 'eve password one' });
  await alice.contactKeys(EVE);
  await first.api.deleteAccount('eve password one');
  const second = newClient();
  await second.register({ username: EVE, password: 'eve password two' });
  await assert.rejects(alice.contactKeys(EVE), KeyChangedError);
});

test('a stopped server is a NetworkError', async () => {
  const c = new ApiClient({ baseUrl: api.url, timeoutMs: 3000 });
  await api.proc.stop();
  await assert.rejects(c.login({ username: ALICE, password: 'x' }), NetworkError);
});
