/**
 * The browser stores (src/app/stores.ts) in a real browser's IndexedDB: the KeyStore
 * contract the SDK relies on (a key id is never replaced, the newest key is current,
 * accounts are isolated, prefixes do not bleed into longer names), key pairs kept as
 * usable non-extractable CryptoKeys, the Messenger store, the session, and the history
 * (encrypted at rest, delivery states only move forward).
 *
 * stores.ts is bundled on its own with the web client's Vite config and loaded into
 * Debian's Chromium (test/support/module-page.ts); no Gossip server is involved.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openModulePage, type ModulePage } from './support/module-page.js';

let stores: ModulePage;

before(async () => {
  stores = await openModulePage('src/app/stores.ts');
});

after(async () => {
  await stores?.close();
});

/** Runs `body` (JavaScript, with `m` the stores module and `ck(id)` a fresh AES key) in the page. */
async function inPage<T>(body: string): Promise<T> {
  return stores.run<T>(`
    const ck = async (id) => ({
      id,
      key: await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']),
    });
    ${body}
  `);
}

test('a conversation key id once stored is never replaced, and the newest is current', async () => {
  const r = await inPage<{ first: boolean; again: boolean; kept: number; current: string }>(`
    const s = new m.IdbKeyStore('alice');
    const k1 = await ck('k1aaaaaaaaaaaaaaaaaaaa');
    const k2 = await ck('k2aaaaaaaaaaaaaaaaaaaa');
    const first = await s.putConversationKey({ peer: 'bob', key: k1, origin: 'outgoing', createdAt: 10, confirmed: false });
    const again = await s.putConversationKey({ peer: 'bob', key: k1, origin: 'incoming', createdAt: 99, confirmed: true });
    await s.putConversationKey({ peer: 'bob', key: k2, origin: 'incoming', createdAt: 20, confirmed: true });
    const kept = (await s.getConversationKey('bob', k1.id)).createdAt;
    return { first, again, kept, current: (await s.currentConversationKey('bob')).key.id };
  `);
  assert.deepEqual(r, { first: true, again: false, kept: 10, current: 'k2aaaaaaaaaaaaaaaaaaaa' });
});

test('confirming an outgoing key, and deleting a peer leaves other peers and accounts alone', async () => {
  const r = await inPage<Record<string, unknown>>(`
    const a = new m.IdbKeyStore('carol');
    const other = new m.IdbKeyStore('carolx');
    const k = await ck('kcaaaaaaaaaaaaaaaaaaaa');
    for (const peer of ['dan', 'danny']) {
      await a.putConversationKey({ peer, key: k, origin: 'outgoing', createdAt: 1, confirmed: false });
    }
    await other.putConversationKey({ peer: 'dan', key: k, origin: 'outgoing', createdAt: 1, confirmed: false });
    await a.confirmConversationKey('dan', k.id);
    const confirmed = (await a.getConversationKey('dan', k.id)).confirmed;
    const otherConfirmed = (await other.getConversationKey('dan', k.id)).confirmed;
    await a.deleteConversationKeys('dan');
    return {
      confirmed,
      otherConfirmed,
      dan: await a.currentConversationKey('dan') === undefined,
      danny: (await a.currentConversationKey('danny'))?.key.id,
      otherDan: (await other.currentConversationKey('dan'))?.key.id,
    };
  `);
  assert.deepEqual(r, {
    confirmed: true,
    otherConfirmed: false,
    dan: true,
    danny: 'kcaaaaaaaaaaaaaaaaaaaa',
    otherDan: 'kcaaaaaaaaaaaaaaaaaaaa',
  });
});

test('pinned contacts are per account', async () => {
  const r = await inPage<{ erin: string[]; fred: string[]; got: boolean; gone: boolean }>(`
    const e = new m.IdbKeyStore('erin');
    const f = new m.IdbKeyStore('fred');
    const pin = (username) => ({ username, wrappingKey: 'w', signingKey: 's', keyVersion: 1, fingerprint: '1'.repeat(30), pinnedAt: 1, verified: false });
    await e.putPinned(pin('gus'));
    await e.putPinned(pin('hal'));
    await f.putPinned(pin('ivy'));
    const got = (await e.getPinned('gus')).owner === undefined;
    await e.deletePinned('hal');
    return {
      erin: (await e.listPinned()).map((p) => p.username),
      fred: (await f.listPinned()).map((p) => p.username),
      got,
      gone: (await e.getPinned('hal')) === undefined,
    };
  `);
  assert.deepEqual(r, { erin: ['gus'], fred: ['ivy'], got: true, gone: true });
});

test('key pairs come back as usable, non-extractable CryptoKeys', async () => {
  const r = await inPage<{ extractable: boolean[]; verified: boolean; exportRefused: boolean }>(`
    const s = new m.IdbKeyStore('jan');
    const signing = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
    const wrapping = await crypto.subtle.generateKey(
      { name: 'RSA-OAEP', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      false, ['wrapKey', 'unwrapKey'],
    );
    await s.putIdentity({ signing, wrapping });
    const back = await new m.IdbKeyStore('jan').getIdentity();
    const data = new TextEncoder().encode('x');
    const sig = await crypto.subtle.sign('Ed25519', back.signing.privateKey, data);
    let exportRefused = false;
    try { await crypto.subtle.exportKey('pkcs8', back.signing.privateKey); } catch { exportRefused = true; }
    return {
      extractable: [back.signing.privateKey.extractable, back.wrapping.privateKey.extractable],
      verified: await crypto.subtle.verify('Ed25519', back.signing.publicKey, sig, data),
      exportRefused,
    };
  `);
  assert.deepEqual(r, { extractable: [false, false], verified: true, exportRefused: true });
});

test('the Messenger store and the session round-trip; logging out forgets the session', async () => {
  const r = await inPage<Record<string, unknown>>(`
    const s = new m.IdbMessengerStore('kim');
    const frame = { type: 'send', id: 'm1', to: 'lee', kind: 'message', body: 'c2lwaGVy' };
    await s.saveSeen(['a', 'b']);
    await s.saveOutbox([frame]);
    const other = new m.IdbMessengerStore('kimberly');
    const tokens = { username: 'kim', accessToken: 'a', accessExpiresAt: 1, refreshToken: 'r', refreshExpiresAt: 2 };
    await m.saveSession(tokens);
    const session = await m.loadSession();
    await m.saveSession(null);
    return {
      seen: await s.loadSeen(),
      outbox: await s.loadOutbox(),
      otherSeen: await other.loadSeen(),
      session: session.username,
      after: await m.loadSession(),
    };
  `);
  assert.deepEqual(r, {
    seen: ['a', 'b'],
    outbox: [{ type: 'send', id: 'm1', to: 'lee', kind: 'message', body: 'c2lwaGVy' }],
    otherSeen: [],
    session: 'kim',
    after: null,
  });
});

test('history is encrypted at rest and its delivery states only move forward', async () => {
  const r = await inPage<Record<string, unknown>>(`
    const h = new m.History('max');
    await h.add({ id: 'b', peer: 'ned', direction: 'out', text: 'second secret', at: 2, state: 'sending' });
    await h.add({ id: 'a', peer: 'ned', direction: 'in', text: 'first secret', at: 1, state: 'received' });
    const toDelivered = await h.setState('ned', 'b', 'delivered');
    const backToAccepted = await h.setState('ned', 'b', 'accepted');
    const lines = await new m.History('max').list('ned');
    const raw = await new Promise((ok) => {
      const req = indexedDB.open('gossip-web');
      req.onsuccess = () => {
        const all = req.result.transaction('history').objectStore('history').getAll();
        all.onsuccess = () => ok(all.result);
      };
    });
    const rawText = raw.map((x) => new TextDecoder().decode(x.sealed) + JSON.stringify(x)).join('');
    return {
      lines: lines.map((l) => [l.id, l.text, l.state]),
      toDelivered,
      backToAccepted,
      otherAccount: (await new m.History('maxi').list('ned')).length,
      plaintextAtRest: rawText.includes('secret'),
    };
  `);
  assert.deepEqual(r, {
    lines: [
      ['a', 'first secret', 'received'],
      ['b', 'second secret', 'delivered'],
    ],
    toDelivered: true,
    backToAccepted: false,
    otherAccount: 0,
    plaintextAtRest: false,
  });
});

// v2 (issue 16). `x()` makes an extractable X25519 pair, as the SDK's generateX25519KeyPair
// does; `dh(pair)` is its shared secret (hex) with the fixed public key `arg.peer`.
const X25519_HELPERS = `
  const x = () => crypto.subtle.generateKey({ name: 'X25519' }, true, ['deriveBits']);
  const hex = (b) => [...new Uint8Array(b)].map((v) => v.toString(16).padStart(2, '0')).join('');
  const peer = await crypto.subtle.importKey('raw', new Uint8Array(arg.peer), { name: 'X25519' }, true, []);
  const dh = async (pair) => hex(await crypto.subtle.deriveBits({ name: 'X25519', public: peer }, pair.privateKey, 256));
`;

test('v2 keys and sessions survive a page reload; identity and one-time private keys stay non-extractable', async () => {
  const peer = [
    ...Buffer.from('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f', 'hex'),
  ];
  const state = 'ratchet-state-secret-' + 'k'.repeat(40);
  const before = await stores.run<{ given: boolean[]; dh: Record<string, string> }>(
    `${X25519_HELPERS}
    const s = new m.IdbKeyStore('oli');
    const ik = await x(), s1 = await x(), s2 = await x(), o1 = await x(), o2 = await x(), o3 = await x();
    await s.putV2Identity({ keyPair: ik, signature: 'sig-ik', createdAt: 5 });
    await s.putSignedPrekey({ id: 7, keyPair: s1, signature: 'sig-7', createdAt: 10 });
    await s.putSignedPrekey({ id: 8, keyPair: s2, signature: 'sig-8', createdAt: 20 });
    await s.putOneTimePrekeys([1, 2, 3].map((id, i) => ({ id, keyPair: [o1, o2, o3][i], createdAt: 30 })));
    const session = (device, st) => ({ peer: 'pam', device, state: st, peerSigningKey: 'spki-pam', received: ['m1'], updatedAt: 40 });
    await s.putSession(session('main', '${state}'), 2);
    await s.putSession({ ...session('tablet', 'other'), previous: 'older-state' });
    await new m.IdbKeyStore('olivia').putSession(session('main', 'not oli'));
    return {
      given: [ik, s1, o1].map((p) => p.privateKey.extractable),
      dh: { ik: await dh(ik), s1: await dh(s1), s2: await dh(s2), o1: await dh(o1), o3: await dh(o3) },
    };`,
    { peer },
  );
  assert.deepEqual(before.given, [true, true, true], 'the keys handed in were extractable');

  await stores.page.reload();
  const r = await stores.run<Record<string, unknown>>(
    `${X25519_HELPERS}
    const s = new m.IdbKeyStore('oli');
    const ik = await s.getV2Identity();
    const spks = await s.listSignedPrekeys();
    const o1 = await s.getOneTimePrekey(1), o3 = await s.getOneTimePrekey(3);
    const privates = [ik.keyPair, o1.keyPair, o3.keyPair].map((p) => p.privateKey);
    const refused = [];
    for (const k of privates) {
      for (const format of ['pkcs8', 'jwk', 'raw']) {
        try { await crypto.subtle.exportKey(format, k); refused.push(false); } catch { refused.push(true); }
      }
    }
    const rawOf = (store) => new Promise((ok) => {
      const req = indexedDB.open('gossip-web');
      req.onsuccess = () => {
        const all = req.result.transaction(store).objectStore(store).getAll();
        all.onsuccess = () => ok(all.result);
      };
    });
    const raw = await rawOf('sessions');
    const rawSigned = await rawOf('signedprekeys');
    const sessions = (await s.listSessions()).sort((a, b) => (a.device < b.device ? -1 : 1));
    return {
      identity: [ik.signature, ik.createdAt],
      signed: spks.map((p) => [p.id, p.signature, p.createdAt]),
      oneTime: (await s.listOneTimePrekeyIds()).sort(),
      consumed: (await s.getOneTimePrekey(2)) === undefined,
      extractable: privates.map((k) => k.extractable),
      // The SDK needs a signed prekey's bytes (KeyStore contract): extractable once read,
      // kept at rest as sealed bytes, no private CryptoKey in the record.
      signedExtractable: spks.map((p) => p.keyPair.privateKey.extractable),
      rawSignedFields: Object.keys(rawSigned[0]).sort(),
      rawSignedKeys: rawSigned.map((r) => r.publicKey.type),
      usages: [...new Set(privates.map((k) => k.usages.join()))],
      refused: refused.every(Boolean) && refused.length === privates.length * 3,
      dh: { ik: await dh(ik.keyPair), s1: await dh(spks[1].keyPair), s2: await dh(spks[0].keyPair), o1: await dh(o1.keyPair), o3: await dh(o3.keyPair) },
      sessions: sessions.map((x) => [x.peer, x.device, x.state, x.received, x.previous ?? null]),
      one: (await s.getSession('pam', 'main')).state,
      none: (await s.getSession('pam', 'phone')) === undefined,
      otherAccount: (await new m.IdbKeyStore('olivia').listSessions()).map((x) => x.state),
      stateAtRest: JSON.stringify(raw, (_k, v) => v instanceof ArrayBuffer || ArrayBuffer.isView(v) ? new TextDecoder().decode(v) : v).includes('ratchet-state-secret'),
      rawFields: Object.keys(raw[0]).sort(),
    };`,
    { peer },
  );
  assert.deepEqual(r, {
    identity: ['sig-ik', 5],
    signed: [
      [8, 'sig-8', 20],
      [7, 'sig-7', 10],
    ],
    oneTime: [1, 3],
    consumed: true,
    extractable: [false, false, false],
    signedExtractable: [true, true],
    rawSignedFields: ['createdAt', 'id', 'iv', 'owner', 'publicKey', 'sealed', 'signature'],
    rawSignedKeys: ['public', 'public'],
    usages: ['deriveBits'],
    refused: true,
    // The same keys: each agrees with the fixed public key as before the reload.
    dh: before.dh,
    sessions: [
      ['pam', 'main', state, ['m1'], null],
      ['pam', 'tablet', 'other', ['m1'], 'older-state'],
    ],
    one: state,
    none: true,
    otherAccount: ['not oli'],
    stateAtRest: false,
    rawFields: ['device', 'iv', 'owner', 'peer', 'sealed'],
  });
});

test('a session put that fails keeps the one-time prekey; deletes are per account and peer', async () => {
  const r = await stores.run<Record<string, unknown>>(`
    const x = () => crypto.subtle.generateKey({ name: 'X25519' }, true, ['deriveBits']);
    const s = new m.IdbKeyStore('quin');
    await s.putOneTimePrekeys([{ id: 4, keyPair: await x(), createdAt: 1 }, { id: 5, keyPair: await x(), createdAt: 1 }]);
    const session = (peer) => ({ peer, device: 'main', state: 'st-' + peer, peerSigningKey: 'k', received: [], updatedAt: 1 });
    // A peer that is no valid IndexedDB key: the put fails after the prekey's delete was
    // asked for in the same transaction, which must roll it back.
    let failed = false;
    try { await s.putSession({ ...session('rex'), peer: undefined }, 4); } catch { failed = true; }
    const kept = (await s.listOneTimePrekeyIds()).sort();
    await s.putSession(session('rex'));
    await s.putSession(session('rexa'));
    await new m.IdbKeyStore('quinn').putSession(session('rex'));
    await s.deleteSessions('rex');
    await s.deleteSignedPrekey(99);
    await s.deleteOneTimePrekey(5);
    return {
      failed,
      kept,
      left: (await s.listSessions()).map((x) => x.peer),
      otherAccount: (await new m.IdbKeyStore('quinn').listSessions()).map((x) => x.peer),
      oneTime: await s.listOneTimePrekeyIds(),
      noIdentity: (await s.getV2Identity()) === undefined,
      noSigned: (await s.listSignedPrekeys()).length,
    };
  `);
  assert.deepEqual(r, {
    failed: true,
    kept: [4, 5],
    left: ['rexa'],
    otherAccount: ['rex'],
    oneTime: [4],
    noIdentity: true,
    noSigned: 0,
  });
});

test('a version 1 database (before v2) is upgraded in place, its records kept', async () => {
  const ctx = await stores.browser.newContext();
  try {
    const page = await ctx.newPage();
    await page.goto(stores.url + '/index.html');
    await page.evaluate(`new Promise((ok, fail) => {
      const req = indexedDB.open('gossip-web', 1);
      req.onupgradeneeded = () => {
        const d = req.result;
        d.createObjectStore('pinned', { keyPath: ['owner', 'username'] });
        d.createObjectStore('identity', { keyPath: 'owner' });
        req.transaction.objectStore('pinned').put({ owner: 'sam', username: 'tia', fingerprint: 'f', verified: true });
      };
      req.onsuccess = () => { req.result.close(); ok(); };
      req.onerror = () => fail(req.error);
    })`);
    const r = await stores.run<{ pinned: string; version: number; oneTime: number[] }>(
      `
      const s = new m.IdbKeyStore('sam');
      const pinned = (await s.getPinned('tia')).fingerprint;
      await s.putOneTimePrekeys([{ id: 9, keyPair: await crypto.subtle.generateKey({ name: 'X25519' }, true, ['deriveBits']), createdAt: 1 }]);
      const version = await new Promise((ok) => {
        const req = indexedDB.open('gossip-web');
        req.onsuccess = () => { ok(req.result.version); req.result.close(); };
      });
      return { pinned, version, oneTime: await s.listOneTimePrekeyIds() };
    `,
      null,
      page,
    );
    assert.deepEqual(r, { pinned: 'f', version: 2, oneTime: [9] });
  } finally {
    await ctx.close();
  }
});

test('exclusive: steps of one account in two tabs never overlap; another account does not wait', async () => {
  const second = await stores.page.context().newPage();
  try {
    await second.goto(stores.url + '/index.html');
    // Each run is three steps that hold the turn for 50 ms; each returns when it started
    // and ended on the clock the tabs share (timeOrigin + now). 'uma' and 'umax' are
    // different accounts.
    const steps = (owner: string) => `
      const s = new m.IdbKeyStore('${owner}');
      const at = () => performance.timeOrigin + performance.now();
      return Promise.all([1, 2, 3].map(() => s.exclusive(async () => {
        const start = at();
        await new Promise((r) => setTimeout(r, 50));
        return [start, at()];
      })));`;
    const [a, b, c] = await Promise.all([
      stores.run<[number, number][]>(steps('uma')),
      stores.run<[number, number][]>(steps('uma'), null, second),
      stores.run<[number, number][]>(steps('umax'), null, second),
    ]);
    const uma = [...a, ...b].sort((x, y) => x[0] - y[0]);
    assert.equal(uma.length, 6);
    for (let i = 1; i < uma.length; i++) {
      assert.ok(uma[i]![0] >= uma[i - 1]![1], `uma's steps overlap: ${JSON.stringify(uma)}`);
    }
    // umax has its own lock: its first step started before uma's last one ended.
    assert.ok(c[0]![0] < uma[uma.length - 1]![1], JSON.stringify({ uma, umax: c }));
  } finally {
    await second.close();
  }
});
