import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  exportPublicKeys,
  generateConversationKey,
  generateIdentityKeys,
  type IdentityKeys,
} from '@gossip/crypto';
import { FileKeyStore, FileSessionStore } from '../src/node/index.js';

let dir: string;
let id: IdentityKeys;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gossip-keystore-'));
  id = await generateIdentityKeys();
});
after(() => rm(dir, { recursive: true, force: true }));

test('identity keys survive a round trip through the file, private keys included', async () => {
  const store = new FileKeyStore(join(dir, 'a'));
  assert.equal(await store.getIdentity(), undefined);
  await store.putIdentity(id);
  const back = await new FileKeyStore(join(dir, 'a')).getIdentity();
  assert.ok(back);
  assert.deepEqual(await exportPublicKeys(back), await exportPublicKeys(id));
  const data = new Uint8Array([7]);
  const sig = await crypto.subtle.sign('Ed25519', back.signing.privateKey, data);
  assert.ok(await crypto.subtle.verify('Ed25519', id.signing.publicKey, sig, data));
});

test('key files are 0600 in a 0700 folder, and no temporary files are left behind', async () => {
  const sub = join(dir, 'perm');
  const store = new FileKeyStore(sub);
  await store.putIdentity(id);
  await store.putConversationKey({
    peer: 'bob',
    key: await generateConversationKey(),
    origin: 'outgoing',
    createdAt: 1,
    confirmed: false,
  });
  await new FileSessionStore(sub).save({
    username: 'alice',
    accessToken: 't',
    accessExpiresAt: 1,
    refreshToken: 'r',
    refreshExpiresAt: 2,
  });
  assert.equal((await stat(sub)).mode & 0o777, 0o700);
  const files = (await readdir(sub)).sort();
  assert.deepEqual(files, ['conversations.json', 'identity.json', 'session.json']);
  for (const f of files) assert.equal((await stat(join(sub, f))).mode & 0o777, 0o600, f);
});

test('conversation keys: lookup by peer and id, newest is current, an id is never replaced', async () => {
  const store = new FileKeyStore(join(dir, 'conv'));
  const [k1, k2, k3] = await Promise.all([1, 2, 3].map(() => generateConversationKey()));
  assert.ok(k1 && k2 && k3);
  assert.equal(
    await store.putConversationKey({
      peer: 'bob',
      key: k1,
      origin: 'outgoing',
      createdAt: 10,
      confirmed: false,
    }),
    true,
  );
  assert.equal(
    await store.putConversationKey({
      peer: 'bob',
      key: k2,
      origin: 'incoming',
      createdAt: 20,
      confirmed: false,
    }),
    true,
  );
  assert.equal(
    await store.putConversationKey({
      peer: 'carol',
      key: k3,
      origin: 'incoming',
      createdAt: 30,
      confirmed: false,
    }),
    true,
  );
  // Same id again with other key material: refused, the original stays.
  assert.equal(
    await store.putConversationKey({
      peer: 'bob',
      key: { id: k1.id, key: k3.key },
      origin: 'incoming',
      createdAt: 99,
      confirmed: false,
    }),
    false,
  );
  assert.equal((await store.currentConversationKey('bob'))?.key.id, k2.id);
  const got = await store.getConversationKey('bob', k1.id);
  const raw = async (k: CryptoKey) => new Uint8Array(await crypto.subtle.exportKey('raw', k));
  assert.deepEqual(await raw(got?.key.key as CryptoKey), await raw(k1.key));
  // Scoped by peer: carol's key is not bob's.
  assert.equal(await store.getConversationKey('bob', k3.id), undefined);
  // Confirming marks the outgoing key as delivered to the server, durably.
  await store.confirmConversationKey('bob', k2.id);
  assert.equal(
    (await new FileKeyStore(join(dir, 'conv')).currentConversationKey('bob'))?.confirmed,
    true,
  );
  assert.equal((await store.getConversationKey('bob', k1.id))?.confirmed, false);
  await store.deleteConversationKeys('bob');
  assert.equal(await store.currentConversationKey('bob'), undefined);
  assert.equal((await store.currentConversationKey('carol'))?.key.id, k3.id);
});

test('concurrent writes in one process are not lost', async () => {
  const store = new FileKeyStore(join(dir, 'race'));
  const keys = await Promise.all(Array.from({ length: 10 }, () => generateConversationKey()));
  await Promise.all(
    keys.map((key, i) =>
      store.putConversationKey({
        peer: 'bob',
        key,
        origin: 'outgoing',
        createdAt: i,
        confirmed: false,
      }),
    ),
  );
  const file = JSON.parse(await readFile(join(dir, 'race', 'conversations.json'), 'utf8')) as {
    keys: unknown[];
  };
  assert.equal(file.keys.length, 10);
});

test('pinned contacts round-trip and can be removed', async () => {
  const store = new FileKeyStore(join(dir, 'pins'));
  const pin = {
    username: 'bob',
    ...(await exportPublicKeys(id)),
    keyVersion: 1,
    fingerprint: '1'.repeat(30),
    pinnedAt: 5,
    verified: false,
  };
  await store.putPinned(pin);
  assert.deepEqual(await store.getPinned('bob'), pin);
  assert.deepEqual(await store.listPinned(), [pin]);
  assert.equal(await store.getPinned('__proto__'), undefined);
  await store.deletePinned('bob');
  assert.equal(await store.getPinned('bob'), undefined);
});

test('pins survive for usernames that are Object.prototype members (__proto__, constructor)', async () => {
  const sub = join(dir, 'proto');
  const pub = await exportPublicKeys(id);
  const pin = (username: string) => ({
    username,
    ...pub,
    keyVersion: 1,
    fingerprint: '1'.repeat(30),
    pinnedAt: 1,
    verified: false,
  });
  const store = new FileKeyStore(sub);
  for (const name of ['__proto__', 'constructor', 'hasownproperty', 'bob']) {
    await store.putPinned(pin(name));
  }
  // A fresh store reads the file again: each pin is there, as an own entry.
  const again = new FileKeyStore(sub);
  assert.equal((await again.getPinned('__proto__'))?.username, '__proto__');
  assert.equal((await again.getPinned('constructor'))?.username, 'constructor');
  assert.equal(await again.getPinned('toString'), undefined, 'nothing inherited is a pin');
  assert.deepEqual((await again.listPinned()).map((p) => p.username).sort(), [
    '__proto__',
    'bob',
    'constructor',
    'hasownproperty',
  ]);
  await again.deletePinned('__proto__');
  assert.equal(await new FileKeyStore(sub).getPinned('__proto__'), undefined);
  assert.equal((await new FileKeyStore(sub).getPinned('bob'))?.username, 'bob');
});

test('retired conversation keys still decrypt but are never chosen for sending', async () => {
  const store = new FileKeyStore(join(dir, 'retire'));
  const old = await generateConversationKey();
  await store.putConversationKey({
    peer: 'bob',
    key: old,
    origin: 'incoming',
    createdAt: 10,
    confirmed: true,
  });
  await store.retireConversationKeys('bob');
  assert.equal(await store.currentConversationKey('bob'), undefined);
  assert.equal((await store.getConversationKey('bob', old.id))?.retired, true);
  const fresh = await generateConversationKey();
  await store.putConversationKey({
    peer: 'bob',
    key: fresh,
    origin: 'outgoing',
    createdAt: 5, // older by the clock, but the only live one
    confirmed: false,
  });
  assert.equal((await store.currentConversationKey('bob'))?.key.id, fresh.id);
});
