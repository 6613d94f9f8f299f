/**
 * Keys and trust, the SDK against the real api process (FerretDB + Redis from the test
 * environment): a rotation signed by the previous key is followed and re-keys both
 * sides; a key swap by the server (written straight into MongoDB, as a malicious server
 * would) is an identity reset; trusting needs the compared fingerprint and never marks a
 * contact verified; a verified contact whose keys change gets nothing until verified
 * again; the owner's other sessions learn that their keys were replaced.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { exportPublicKeys, fingerprint, fromUtf8, generateIdentityKeys } from '@gossip/crypto';
import type { ContactFrame, EventDoc } from '@gossip/protocol';
import { MongoClient } from 'mongodb';
import { testEnv } from '@gossip/testenv';
import { ApiClient } from '../src/api.js';
import {
  ApiError,
  FingerprintMismatchError,
  KeyChangedError,
  VerificationRequiredError,
} from '../src/errors.js';
import { GossipClient } from '../src/gossip.js';
import { MemoryKeyStore } from '../src/keystore.js';
import { startApiProcess, type RunningApi } from './api-process.js';

let api: RunningApi;
let mongo: MongoClient;
const suffix = Math.random().toString(36).slice(2, 8);
const pw = (name: string): string => `${name}-password-${suffix}`;

/**
 * v1 clients: these tests follow the conversation keys (key frames) through key changes;
 * v2 sessions under key changes are v2.integration.test.ts's.
 */
function newClient(): GossipClient {
  return new GossipClient({
    api: new ApiClient({ baseUrl: api.url }),
    keyStore: new MemoryKeyStore(),
    v2: false,
  });
}

async function registered(name: string): Promise<GossipClient> {
  const c = newClient();
  await c.register({ username: `${name}_${suffix}`, password: pw(name) });
  return c;
}

/** Opens the `key-changed` event the api stored for `to` about `from` (as the gateway would push it). */
async function keyChangedEvent(to: string, from: string): Promise<ContactFrame> {
  const doc = await mongo
    .db(api.env.API_MONGO_DB)
    .collection<EventDoc>('events')
    .findOne({ to, from, event: 'key-changed' }, { sort: { at: -1 } });
  assert.ok(doc, `a key-changed event for ${to} from ${from}`);
  return {
    type: 'contact',
    id: doc._id,
    event: doc.event,
    from: doc.from,
    at: doc.at.getTime(),
    ...(doc.keyVersion === undefined ? {} : { keyVersion: doc.keyVersion }),
  };
}

before(async () => {
  api = await startApiProcess();
  mongo = new MongoClient(testEnv().mongoUrl);
  await mongo.connect();
});

after(async () => {
  await mongo?.close();
  await api?.stop();
});

test('a rotation signed by the previous key is followed without a reset, and both sides re-key', async () => {
  const alice = await registered('alice');
  const bob = await registered('bob');
  // Contacts, so the api tells alice about bob's key change.
  await alice.api.requestContact(bob.username);
  await bob.api.acceptContact(alice.username);
  // A conversation under the old keys, both ways.
  await alice.contactKeys(bob.username);
  await bob.contactKeys(alice.username);
  const [k1, m1] = await alice.prepareSend(bob.username, 'before');
  await bob.receiveKey(alice.username, k1!.body);
  await alice.keyMessageAccepted(k1!);
  const oldKey = (await bob.keyStore.currentConversationKey(alice.username))?.key.id;

  const res = await bob.changeKeys(pw('bob'));
  assert.equal(res.signed, true);
  assert.equal(res.keyVersion, 2);
  // Bob stops sending under the key shared with his old identity: a new key goes first.
  const [bk, bm] = await bob.prepareSend(alice.username, 'from my new keys');
  assert.equal(bk?.kind, 'key');
  assert.notEqual(
    (await bob.keyStore.currentConversationKey(alice.username))?.key.id,
    oldKey,
    'the old conversation key is retired for sending',
  );

  // Alice follows the signed change: no error, the new keys are pinned.
  const pinned = await alice.contactKeys(bob.username);
  assert.equal(
    pinned.fingerprint,
    await fingerprint({ username: bob.username, ...(await bob.ownPublicKeys()) }),
  );
  assert.equal(await alice.hasConversation(bob.username), false, 'alice re-keys too');
  // Bob's new key envelope (signed by his new key) opens, and so does his message.
  await alice.receiveKey(bob.username, bk!.body);
  const opened = await alice.decrypt(bob.username, bm!.id, bm!.body);
  assert.equal(fromUtf8(opened.data), 'from my new keys');
  // Old traffic still decrypts (retired keys are kept for reading).
  assert.equal(fromUtf8((await bob.decrypt(alice.username, m1!.id, m1!.body)).data), 'before');
  // A contact event from the api reports it as a plain (signed) change.
  const ev = await alice.openContactEvent(await keyChangedEvent(alice.username, bob.username));
  assert.deepEqual(ev, { event: 'key-changed', from: bob.username });
});

test('keys swapped by the server behind the user’s back are an identity reset; trust needs the compared fingerprint', async () => {
  const alice = await registered('alice2');
  const bob = await registered('bob2');
  const before = await alice.contactKeys(bob.username);
  // A malicious server publishes keys it made, with a "proof" it signed itself.
  const evil = await generateIdentityKeys();
  const evilKeys = await exportPublicKeys(evil);
  const evilFingerprint = await fingerprint({ username: bob.username, ...evilKeys });
  await mongo
    .db(api.env.API_MONGO_DB)
    .collection('users')
    .updateOne(
      { _id: bob.username as never },
      {
        $set: {
          keys: evilKeys,
          keyVersion: 2,
          fingerprint: evilFingerprint,
          keyChain: [{ keyVersion: 2, keys: evilKeys, proof: 'A'.repeat(86) + '==' }],
        },
      },
    );
  const err = await alice.contactKeys(bob.username).then(
    () => assert.fail('the swap was followed'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof KeyChangedError, String(err));
  assert.equal(err.identityReset, true);
  assert.match(err.message, /identity reset/);
  assert.equal(err.currentFingerprint, evilFingerprint);
  assert.equal((await alice.keyStore.getPinned(bob.username))?.fingerprint, before.fingerprint);

  // Alice compares with the real bob: his fingerprint is not the published one. Refused.
  const real = await fingerprint({ username: bob.username, ...(await bob.ownPublicKeys()) });
  await assert.rejects(alice.trustContactKeys(bob.username, real), FingerprintMismatchError);
  assert.equal((await alice.keyStore.getPinned(bob.username))?.fingerprint, before.fingerprint);
  // Had she been told the attacker's digits (spaced as shown), trust would pin them, unverified.
  const spaced = evilFingerprint.replace(/(\d{5})(?=\d)/g, '$1 ');
  const trusted = await alice.trustContactKeys(bob.username, spaced);
  assert.equal(trusted.fingerprint, evilFingerprint);
  assert.equal(trusted.verified, false, 'trusting never marks a contact verified');
});

test('a verified contact whose keys change cannot be sent to until verified again', async () => {
  const alice = await registered('alice3');
  const bob = await registered('bob3');
  await alice.contactKeys(bob.username);
  await alice.markVerified(bob.username, await alice.safetyNumber(bob.username));
  assert.equal((await alice.prepareSend(bob.username, 'hi')).length, 2);

  await bob.changeKeys(pw('bob3')); // signed: followed, but verification is void
  const pin = await alice.contactKeys(bob.username);
  assert.equal(pin.verified, false);
  assert.equal(pin.needsVerification, true);
  await assert.rejects(
    alice.prepareSend(bob.username, 'are you still you?'),
    VerificationRequiredError,
  );
  await assert.rejects(alice.encrypt(bob.username, 'x'), VerificationRequiredError);
  // A wrong safety number does not verify; the right one does, and sending resumes.
  await assert.rejects(alice.markVerified(bob.username, '1'.repeat(60)), FingerprintMismatchError);
  await alice.markVerified(bob.username, await bob.safetyNumber(alice.username));
  const frames = await alice.prepareSend(bob.username, 'verified again');
  await bob.contactKeys(alice.username);
  await bob.receiveKey(alice.username, frames[0]!.body);
  assert.equal(
    fromUtf8((await bob.decrypt(alice.username, frames[1]!.id, frames[1]!.body)).data),
    'verified again',
  );

  // After an identity reset, trusting a formerly verified contact still needs verifying.
  const bobElsewhere = newClient();
  await bobElsewhere.login(bob.username, pw('bob3'));
  assert.equal((await bobElsewhere.changeKeys(pw('bob3'))).signed, false);
  const reset = await alice.contactKeys(bob.username).catch((e: unknown) => e);
  assert.ok(reset instanceof KeyChangedError);
  const trusted = await alice.trustContactKeys(bob.username, reset.currentFingerprint);
  assert.equal(trusted.needsVerification, true);
  await assert.rejects(alice.prepareSend(bob.username, 'x'), VerificationRequiredError);
});

test('changing keys needs the password; the owner’s other sessions are told their keys were replaced', async () => {
  const carol = await registered('carol');
  const before = await carol.ownPublicKeys();
  await assert.rejects(
    carol.changeKeys('not my password'),
    (e: unknown) => e instanceof ApiError && e.code === 'invalid_credentials',
  );
  assert.deepEqual(await carol.ownPublicKeys(), before, 'local keys unchanged');
  assert.equal((await carol.api.getUserKeys(carol.username)).keyVersion, 1);

  // Carol on a second device (no keys there) publishes new ones.
  const second = newClient();
  await second.login(carol.username, pw('carol'));
  await second.changeKeys(pw('carol'));
  const frame = await keyChangedEvent(carol.username, carol.username);
  // The first device learns its keys are no longer the published ones ...
  assert.deepEqual(await carol.openContactEvent(frame), {
    event: 'key-changed',
    from: carol.username,
    own: true,
    replaced: true,
  });
  // ... while the device that made the change sees it as its own.
  assert.deepEqual(await second.openContactEvent(frame), {
    event: 'key-changed',
    from: carol.username,
    own: true,
    replaced: false,
  });
});
