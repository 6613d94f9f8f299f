/**
 * End-to-end encryption v2 (issue 16) in the web client: two browser contexts in Debian's
 * Chromium, against the real api, gateway and engine, chat both ways. Every message body
 * the pages send over the WebSocket (read from the frames themselves) is a v2 body; the
 * ratchet sessions are in IndexedDB, sealed, and the X25519 identity and one-time private
 * keys are non-extractable; after a page reload (the sessions read back from IndexedDB)
 * both keep chatting in v2.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { messageBodyVersion } from '@gossip/crypto';
import { messageState, name, pair, Pages, sendText, waitState, openChat } from './support/pages.js';
import { launchChromium, WebStack } from './support/stack.js';

const stack = new WebStack();
let browser: Browser;
let baseUrl = '';
const pages = new Pages(() => baseUrl);

before(async () => {
  baseUrl = (await stack.start((line) => process.stdout.write(`${line}\n`))).url;
  browser = await launchChromium();
});

after(async () => {
  for (const line of pages.consoleLines) process.stdout.write(`page console ${line}\n`);
  await browser?.close();
  await stack.stop();
});

/** The body format of every message `send` frame the page puts on its WebSocket. */
function watchSends(page: Page, versions: number[]): void {
  page.on('websocket', (ws) => {
    ws.on('framesent', (f) => {
      if (typeof f.payload !== 'string') return;
      let frame: { type?: string; kind?: string; body?: string };
      try {
        frame = JSON.parse(f.payload) as typeof frame;
      } catch {
        return;
      }
      if (frame.type === 'send' && frame.kind === 'message' && typeof frame.body === 'string') {
        versions.push(messageBodyVersion(frame.body));
      }
    });
  });
}

/** What IndexedDB holds of v2 on this page. A string: see storage-probe.ts. */
const V2_PROBE = `(async () => {
  const db = await new Promise((ok, fail) => {
    const r = indexedDB.open('gossip-web');
    r.onsuccess = () => ok(r.result);
    r.onerror = () => fail(r.error);
  });
  const all = (store) => new Promise((ok, fail) => {
    const r = db.transaction(store).objectStore(store).getAll();
    r.onsuccess = () => ok(r.result);
    r.onerror = () => fail(r.error);
  });
  const sessions = await all('sessions');
  const ids = await all('v2identity');
  const otks = await all('onetimeprekeys');
  return {
    sessions: sessions.map((s) => [s.peer, s.device, Object.keys(s).sort().join()]),
    identityExtractable: ids.map((i) => i.key.keyPair.privateKey.extractable),
    oneTimeExtractable: [...new Set(otks.map((o) => o.keyPair.privateKey.extractable))],
    oneTime: otks.length,
    signed: (await all('signedprekeys')).length,
  };
})()`;

interface V2Probe {
  sessions: [string, string, string][];
  identityExtractable: boolean[];
  oneTimeExtractable: boolean[];
  oneTime: number;
  signed: number;
}

test('two browsers chat in v2, sessions sealed in IndexedDB, and go on in v2 after a reload', async () => {
  const alice = name('alice');
  const bob = name('bob');
  const sentA: number[] = [];
  const sentB: number[] = [];
  const ctxA = await browser.newContext();
  const ctxB = await browser.newContext();
  const pageA = await pages.open(ctxA);
  let pageB = await pages.open(ctxB);
  watchSends(pageA, sentA);
  watchSends(pageB, sentB);
  await pair(pageA, alice, pageB, bob);

  const texts = ['first v2 message', 'reply in the ratchet', 'and back again'];
  await sendText(pageA, texts[0]!);
  assert.equal(await messageState(pageB, texts[0]!, 'in'), 'received');
  await sendText(pageB, texts[1]!);
  assert.equal(await messageState(pageA, texts[1]!, 'in'), 'received');
  await sendText(pageA, texts[2]!);
  assert.equal(await messageState(pageB, texts[2]!, 'in'), 'received');
  await waitState(pageA, texts[2]!, 'delivered');

  for (const [page, peer] of [
    [pageA, bob],
    [pageB, alice],
  ] as const) {
    const p = (await page.evaluate(V2_PROBE)) as V2Probe;
    assert.deepEqual(
      p.sessions,
      [[peer, 'main', 'device,iv,owner,peer,sealed']],
      'one sealed session',
    );
    assert.deepEqual(p.identityExtractable, [false]);
    assert.deepEqual(p.oneTimeExtractable, [false]);
    assert.ok(p.oneTime > 0 && p.signed > 0, 'prekeys kept');
  }

  // Bob reloads: his session comes back from IndexedDB and the ratchet goes on.
  await pageB.close();
  pageB = await pages.open(ctxB);
  watchSends(pageB, sentB);
  await pageB.waitForSelector('[data-testid=connection][data-state=open]');
  await openChat(pageB, alice);
  const after = ['after the reload', 'still v2'];
  await sendText(pageB, after[0]!);
  assert.equal(await messageState(pageA, after[0]!, 'in'), 'received');
  await sendText(pageA, after[1]!);
  assert.equal(await messageState(pageB, after[1]!, 'in'), 'received');
  await waitState(pageA, after[1]!, 'delivered');

  assert.deepEqual(sentA, [2, 2, 2], "every body alice's page sent is v2");
  assert.deepEqual(sentB, [2, 2], "every body bob's page sent is v2");
  assert.deepEqual(pages.errors, []);
  const db = await stack.databaseText();
  for (const t of [...texts, ...after]) assert.ok(!db.includes(t), `plaintext in MongoDB: ${t}`);
});
