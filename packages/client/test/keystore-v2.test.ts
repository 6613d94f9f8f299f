/** The v2 part of the KeyStore (issue 16), the same checks on the memory and the file store. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportX25519PublicKey, generateX25519KeyPair, x25519 } from '@gossip/crypto';
import { MemoryKeyStore, type KeyStore, type StoredSession } from '../src/keystore.js';
import { FileKeyStore } from '../src/node/index.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gossip-keystore-v2-'));
});
after(() => rm(dir, { recursive: true, force: true }));

/** Whether two key pairs are the same key: same public key, and the private keys agree. */
async function samePair(a: CryptoKeyPair, b: CryptoKeyPair): Promise<boolean> {
  if ((await exportX25519PublicKey(a.publicKey)) !== (await exportX25519PublicKey(b.publicKey))) {
    return false;
  }
  const other = await generateX25519KeyPair();
  const x = await x25519(a.privateKey, other.publicKey);
  const y = await x25519(b.privateKey, other.publicKey);
  return Buffer.from(x).equals(Buffer.from(y));
}

const session = (peer: string, device: string, state: string): StoredSession => ({
  peer,
  device,
  state,
  peerSigningKey: 'spki-' + peer,
  received: ['m1', 'm2'],
  updatedAt: 5,
});

const stores: [string, () => KeyStore, (() => KeyStore) | undefined][] = [
  ['MemoryKeyStore', () => new MemoryKeyStore(), undefined],
  [
    'FileKeyStore',
    () => new FileKeyStore(join(dir, 'f')),
    () => new FileKeyStore(join(dir, 'f')), // a second instance reads what the first wrote
  ],
];

for (const [name, make, reopen] of stores) {
  describe(`${name} v2 keys`, () => {
    let store: KeyStore;
    const again = (): KeyStore => (reopen ? reopen() : store);
    before(() => {
      store = make();
    });

    test('X25519 identity key round trip', async () => {
      assert.equal(await store.getV2Identity(), undefined);
      const keyPair = await generateX25519KeyPair();
      await store.putV2Identity({ keyPair, signature: 'sig', createdAt: 3 });
      const back = await again().getV2Identity();
      assert.ok(back);
      assert.equal(back.signature, 'sig');
      assert.equal(back.createdAt, 3);
      assert.ok(await samePair(back.keyPair, keyPair));
    });

    test('signed prekeys: newest first, replace by id, delete', async () => {
      assert.deepEqual(await store.listSignedPrekeys(), []);
      const [k1, k2] = await Promise.all([generateX25519KeyPair(), generateX25519KeyPair()]);
      await store.putSignedPrekey({ id: 1, keyPair: k1, signature: 's1', createdAt: 10 });
      await store.putSignedPrekey({ id: 2, keyPair: k2, signature: 's2', createdAt: 20 });
      let list = await again().listSignedPrekeys();
      assert.deepEqual(
        list.map((p) => [p.id, p.signature, p.createdAt]),
        [
          [2, 's2', 20],
          [1, 's1', 10],
        ],
      );
      assert.ok(await samePair(list[1]!.keyPair, k1));
      await store.putSignedPrekey({ id: 1, keyPair: k1, signature: 's1b', createdAt: 30 });
      list = await again().listSignedPrekeys();
      assert.deepEqual(
        list.map((p) => [p.id, p.signature]),
        [
          [1, 's1b'],
          [2, 's2'],
        ],
      );
      await store.deleteSignedPrekey(2);
      await store.deleteSignedPrekey(99);
      assert.deepEqual(
        (await again().listSignedPrekeys()).map((p) => p.id),
        [1],
      );
    });

    test('one-time prekeys: a batch is stored, looked up by id, deleted once', async () => {
      const pairs = await Promise.all([1, 2, 3].map(() => generateX25519KeyPair()));
      await store.putOneTimePrekeys(
        pairs.map((keyPair, i) => ({ id: 100 + i, keyPair, createdAt: i })),
      );
      assert.deepEqual((await again().listOneTimePrekeyIds()).sort(), [100, 101, 102]);
      const got = await again().getOneTimePrekey(101);
      assert.ok(got);
      assert.ok(await samePair(got.keyPair, pairs[1]!));
      assert.equal(await store.getOneTimePrekey(7), undefined);
      await store.deleteOneTimePrekey(101);
      assert.equal(await again().getOneTimePrekey(101), undefined);
      assert.deepEqual((await again().listOneTimePrekeyIds()).sort(), [100, 102]);
    });

    test('sessions by (peer, device): replaced whole, and accepting consumes the one-time prekey', async () => {
      assert.equal(await store.getSession('bob', 'main'), undefined);
      await store.putSession(session('bob', 'main', '{"a":1}'));
      await store.putSession(session('bob', 'tablet', '{"t":1}'));
      // Accepting carol's session uses one-time prekey 100: both in one step.
      await store.putSession(session('carol', 'main', '{"c":1}'), 100);
      assert.equal(await again().getOneTimePrekey(100), undefined);
      assert.deepEqual(await again().listOneTimePrekeyIds(), [102]);
      const next = {
        ...session('bob', 'main', '{"a":2}'),
        received: ['m1', 'm2', 'm3'],
        // The kept key of m3, decrypted and not handled yet: stored with the state step.
        unacked: [{ id: 'm3', mk: Buffer.alloc(32, 7).toString('base64'), at: 6 }],
        updatedAt: 6,
      };
      await store.putSession(next);
      assert.deepEqual(await again().getSession('bob', 'main'), next);
      assert.equal((await again().getSession('bob', 'tablet'))?.state, '{"t":1}');
      assert.equal((await again().listSessions()).length, 3);
      // A caller changing what it got back does not change the store.
      const got = await store.getSession('bob', 'main');
      got!.received.push('x');
      got!.unacked!.pop();
      assert.deepEqual((await store.getSession('bob', 'main'))?.received, ['m1', 'm2', 'm3']);
      assert.deepEqual(
        (await again().getSession('bob', 'main'))?.unacked?.map((k) => k.id),
        ['m3'],
      );
      await store.deleteSessions('bob');
      assert.deepEqual(
        (await again().listSessions()).map((s) => [s.peer, s.device]),
        [['carol', 'main']],
      );
    });

    test('a peer named __proto__ is a session like any other', async () => {
      await store.putSession(session('__proto__', 'main', '{"p":1}'));
      assert.equal((await again().getSession('__proto__', 'main'))?.state, '{"p":1}');
      await store.deleteSessions('__proto__');
      assert.equal(await again().getSession('__proto__', 'main'), undefined);
    });
  });
}

test('MemoryKeyStore keeps non-extractable X25519 keys as they are', async () => {
  const store = new MemoryKeyStore();
  const keyPair = (await crypto.subtle.generateKey({ name: 'X25519' }, false, [
    'deriveBits',
  ])) as CryptoKeyPair;
  await store.putOneTimePrekeys([{ id: 5, keyPair, createdAt: 1 }]);
  const got = await store.getOneTimePrekey(5);
  assert.equal(got?.keyPair.privateKey.extractable, false);
  assert.ok(got && (await samePair(got.keyPair, keyPair)));
});

test('v2.json is 0600, alone in its folder, and concurrent puts all land', async () => {
  const sub = join(dir, 'conc');
  const store = new FileKeyStore(sub);
  const pairs = await Promise.all(Array.from({ length: 8 }, () => generateX25519KeyPair()));
  await Promise.all([
    ...pairs.map((keyPair, i) => store.putOneTimePrekeys([{ id: i + 1, keyPair, createdAt: i }])),
    ...pairs.map((_, i) => store.putSession(session(`p${i}`, 'main', `{"n":${i}}`))),
  ]);
  assert.deepEqual(
    (await store.listOneTimePrekeyIds()).sort((a, b) => a - b),
    [1, 2, 3, 4, 5, 6, 7, 8],
  );
  assert.equal((await store.listSessions()).length, 8);
  assert.deepEqual(await readdir(sub), ['v2.json']);
  assert.equal((await stat(join(sub, 'v2.json'))).mode & 0o777, 0o600);
  const text = await readFile(join(sub, 'v2.json'), 'utf8');
  assert.equal(JSON.parse(text).format, 1);
  assert.equal(JSON.parse(text).oneTimePrekeys.length, 8);
});

test('exclusive: two FileKeyStores on one folder (two processes) never lose a step', async () => {
  const sub = join(dir, 'excl');
  const one = new FileKeyStore(sub);
  const two = new FileKeyStore(sub);
  await one.putSession(session('bob', 'main', '0'));
  // Each step reads the state, waits, writes it + 1: without the lock, steps overlap and
  // increments are lost.
  const bump = (store: FileKeyStore) =>
    store.exclusive(async () => {
      const s = await store.getSession('bob', 'main');
      await new Promise((r) => setTimeout(r, 5));
      await store.putSession({ ...s!, state: String(Number(s!.state) + 1) });
    });
  await Promise.all(Array.from({ length: 20 }, (_, i) => bump(i % 2 ? one : two)));
  assert.equal((await one.getSession('bob', 'main'))?.state, '20');
  assert.deepEqual(await readdir(sub), ['v2.json'], 'the lock file is removed after each step');
});

test('exclusive: a lock file left by a process that is gone is taken over', async () => {
  const sub = join(dir, 'stale');
  const store = new FileKeyStore(sub);
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  const deadPid = child.stdout.toString();
  await store.putSession(session('bob', 'main', '{}'));
  await writeFile(join(sub, 'v2.lock'), deadPid, { mode: 0o600 });
  assert.equal(await store.exclusive(async () => 'ran'), 'ran');
});
