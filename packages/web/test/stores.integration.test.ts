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
