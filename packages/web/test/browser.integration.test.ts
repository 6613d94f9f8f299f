/**
 * The web client end to end in a real browser: Debian's Chromium, driven by
 * playwright-core, against the real api, gateway and engine processes (on the test
 * environment's RabbitMQ, Redis and FerretDB) behind the web server.
 *
 * Two browser contexts (two people) register, request and accept each other, compare
 * the safety number shown on both pages, chat both ways with delivery states, then one
 * closes its page (offline) while the other writes, and finds the messages when it
 * comes back (session and keys from IndexedDB, undelivered messages from the server).
 * A screenshot of the chat is saved as test-results/chat.png. Files (0 B, 1 B, many
 * chunks, an image shown inline, exactly one chunk and the 25 MiB size limit) go both
 * ways and are saved through the Save link byte-identical.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ATTACHMENT_CHUNK_BYTES, DEFAULT_ATTACHMENT_MAX_BYTES } from '@gossip/protocol';
import type { Browser } from 'playwright-core';
import {
  logIn,
  messageState,
  name,
  openChat,
  pair,
  Pages,
  PASSWORD,
  register,
  safetyNumber,
  sendAndSave,
  sendText,
  waitState,
  type TestFile,
} from './support/pages.js';
import { STORAGE_PROBE } from './support/storage-probe.js';
import { launchChromium, repoRoot, WebStack } from './support/stack.js';

const stack = new WebStack();
let browser: Browser;
let baseUrl = '';
const pages = new Pages(() => baseUrl);
const pageErrors = pages.errors;
const open = pages.open.bind(pages);
/** Files too big to hand to the page inline are written here. */
const scratch = mkdtempSync(join(tmpdir(), 'gossip-web-files-'));

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

before(async () => {
  baseUrl = (await stack.start(log)).url;
  browser = await launchChromium();
});

after(async () => {
  for (const line of pages.consoleLines) log(`page console ${line}`);
  await browser?.close();
  await stack.stop();
  rmSync(scratch, { recursive: true, force: true });
});

test('two browsers register, verify safety numbers, chat both ways and catch up after being offline', async () => {
  const alice = name('alice');
  const bob = name('bob');
  const ctxA = await browser.newContext();
  const ctxB = await browser.newContext();
  const pageA = await open(ctxA);
  let pageB = await open(ctxB);

  // Register: each page made its own keys and shows its fingerprint (30 digits).
  const fpA = await register(pageA, alice);
  const fpB = await register(pageB, bob);
  assert.match(fpA, /^(\d{5} ){5}\d{5}$/);
  assert.match(fpB, /^(\d{5} ){5}\d{5}$/);
  assert.notEqual(fpA, fpB);

  // Alice asks Bob; Bob sees the request arrive in real time and accepts it.
  await pageA.fill('#add-user', bob);
  await pageA.click('#add-form button[type=submit]');
  await pageA.waitForSelector(`[data-testid=contact-${bob}][data-state=outgoing]`);
  await pageB.click(`[data-testid=accept-${alice}]`);
  await openChat(pageB, alice);
  await openChat(pageA, bob); // Alice's list turns `accepted` on the contact event

  // The safety number is the same on both screens; both mark it verified.
  const snA = await safetyNumber(pageA);
  const snB = await safetyNumber(pageB);
  assert.match(snA, /^(\d{5} ){11}\d{5}$/);
  assert.equal(snA, snB, 'both pages must show the same safety number');
  for (const page of [pageA, pageB]) {
    await page.click('[data-testid=mark-verified]');
    await page.waitForSelector('[data-testid=verified]');
  }

  // Both ways, in real time, with delivery receipts.
  const hello = `Hi ${bob}, Grüße, this is end-to-end encrypted`;
  const sentAt = Date.now();
  await sendText(pageA, hello);
  assert.equal(await messageState(pageB, hello, 'in'), 'received');
  const shownAt = Date.now();
  await waitState(pageA, hello, 'delivered');
  // A figure, not a pass mark: first message (with its key message) click to screen.
  log(
    `first message: shown to the recipient after ${shownAt - sentAt} ms, delivered tick after ${Date.now() - sentAt} ms`,
  );
  const reply = `Hello ${alice}! Loud and clear.`;
  // Typing is an ephemeral signal: Alice sees it while Bob writes, and it goes with the message.
  await pageB.fill('[data-testid=composer]', 'Hello');
  await pageA.waitForSelector('[data-testid=typing]:not([hidden])');
  assert.equal(await pageA.textContent('[data-testid=typing]'), `${bob} is typing…`);
  await sendText(pageB, reply);
  assert.equal(await messageState(pageA, reply, 'in'), 'received');
  await waitState(pageB, reply, 'delivered');
  assert.ok(await pageA.locator('[data-testid=typing]').isHidden());

  // Bob goes offline (his page closes; his browser profile and IndexedDB stay).
  await pageB.close();
  const offline = [`${bob}, are you there?`, 'Call me when you are back.'];
  for (const text of offline) {
    await sendText(pageA, text);
    // Stored by the server (accepted), but nobody has read it yet.
    await waitState(pageA, text, 'accepted');
  }
  await new Promise((r) => setTimeout(r, 500));
  for (const text of offline) {
    assert.equal(await messageState(pageA, text, 'out'), 'accepted', 'not delivered while offline');
  }

  // Bob comes back: the session resumes from IndexedDB, the messages arrive.
  pageB = await open(ctxB);
  await pageB.waitForSelector('[data-testid=connection][data-state=open]');
  assert.equal((await pageB.textContent('[data-testid=me]'))?.trim(), bob);
  await openChat(pageB, alice);
  for (const text of offline) assert.equal(await messageState(pageB, text, 'in'), 'received');
  // Earlier history survived the reload too.
  assert.equal(await messageState(pageB, hello, 'in'), 'received');
  assert.equal(await messageState(pageB, reply, 'out'), 'delivered');
  for (const text of offline) await waitState(pageA, text, 'delivered');

  const back = 'Back now, got both.';
  await sendText(pageB, back);
  assert.equal(await messageState(pageA, back, 'in'), 'received');
  await waitState(pageB, back, 'delivered');

  // In the browser: private keys cannot be exported, and no message text is stored readable.
  const storage = (await pageB.evaluate(STORAGE_PROBE)) as {
    identities: number;
    privateExtractable: boolean[];
    stored: string;
  };
  assert.equal(storage.identities, 1);
  assert.deepEqual(storage.privateExtractable, [false, false]);
  for (const text of [hello, reply, back, ...offline]) {
    assert.ok(!storage.stored.includes(text), `plaintext in IndexedDB: ${text}`);
  }
  assert.ok(!storage.stored.includes(PASSWORD), 'password in IndexedDB');

  // The server never saw the plaintext, and the page threw nothing.
  const stored = await stack.databaseText();
  for (const text of [hello, reply, back, ...offline]) {
    assert.ok(!stored.includes(text), `plaintext in MongoDB: ${text}`);
    assert.ok(!stack.logs().includes(text), `plaintext in service logs: ${text}`);
  }
  assert.deepEqual(pageErrors, []);

  // Log out and in again: the keys stayed in this browser, so the history is readable.
  await pageB.click('#logout');
  await pageB.waitForSelector('#auth-view:not([hidden])');
  await logIn(pageB, bob);
  await openChat(pageB, alice);
  assert.equal(await messageState(pageB, back, 'out'), 'delivered');
  assert.equal(await messageState(pageB, hello, 'in'), 'received');

  const dir = join(repoRoot, 'test-results');
  mkdirSync(dir, { recursive: true });
  await pageA.screenshot({ path: join(dir, 'chat.png') });
  await pageB.screenshot({ path: join(dir, 'chat-bob.png') });
  await ctxA.close();
  await ctxB.close();
});

test('the page reconnects by itself after the gateway crashes, and sends what was written meanwhile', async () => {
  const carol = name('carol');
  const dave = name('dave');
  const ctxC = await browser.newContext();
  const ctxD = await browser.newContext();
  const pageC = await open(ctxC);
  const pageD = await open(ctxD);
  await pair(pageC, carol, pageD, dave);

  await stack.killGateway();
  for (const page of [pageC, pageD]) {
    await page.waitForSelector('[data-testid=connection]:not([data-state=open])');
  }
  const during = 'written while the gateway was down';
  await sendText(pageC, during);
  assert.equal(await messageState(pageC, during, 'out'), 'sending');

  await stack.startGateway();
  const upAt = Date.now();
  for (const page of [pageC, pageD]) {
    await page.waitForSelector('[data-testid=connection][data-state=open]', { timeout: 60_000 });
  }
  log(`both pages reconnected ${Date.now() - upAt} ms after the new gateway was ready`);
  assert.equal(await messageState(pageD, during, 'in'), 'received');
  await waitState(pageC, during, 'delivered');
  assert.deepEqual(pageErrors, []);
  await ctxC.close();
  await ctxD.close();
});

test('an unsigned key change is flagged as an identity reset, and chat resumes once the compared fingerprint is trusted', async () => {
  const erin = name('erin');
  const frank = name('frank');
  const ctxE = await browser.newContext();
  const ctxF = await browser.newContext();
  const pageE = await open(ctxE);
  const pageF = await open(ctxF);
  await pair(pageE, erin, pageF, frank);
  await sendText(pageF, 'before my new laptop');
  assert.equal(await messageState(pageE, 'before my new laptop', 'in'), 'received');

  // Frank logs in from a browser without his keys and publishes new ones.
  await ctxF.close();
  const ctxF2 = await browser.newContext();
  const pageF2 = await open(ctxF2);
  pageF2.on('dialog', (d) => void d.accept());
  await logIn(pageF2, frank);

  // Erin is warned in real time, and sees the safety number Frank's new page shows.
  await pageE.waitForSelector('[data-testid=key-warning]');
  await pageE.waitForSelector(`[data-testid=contact-${frank}] .tag.warn`);
  const warned = (await pageE.locator('[data-testid=safety-number]').textContent())?.trim();
  await openChat(pageF2, erin);
  assert.equal(warned, await safetyNumber(pageF2));
  mkdirSync(join(repoRoot, 'test-results'), { recursive: true });
  await pageE.screenshot({ path: join(repoRoot, 'test-results', 'key-change.png') });
  assert.ok(
    await pageE.locator('[data-testid=composer]').isDisabled(),
    'no writing to unverified keys',
  );

  // What Frank's new keys sign is not shown before Erin trusts them.
  const held = 'sent from my new laptop';
  await sendText(pageF2, held);
  await waitState(pageF2, held, 'accepted');
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(await pageE.locator('[data-testid=message]', { hasText: held }).count(), 0);

  // Trusting takes the fingerprint Erin compared with Frank: a wrong one is refused.
  assert.match((await pageE.locator('#banner').textContent()) ?? '', /IDENTITY RESET/);
  await pageE.fill('[data-testid=trust-fingerprint]', '1'.repeat(30));
  await pageE.click('[data-testid=trust-keys]');
  await pageE.waitForSelector('[data-testid=trust-error]:has-text("nothing was trusted")');
  assert.equal(await pageE.locator('[data-testid=key-warning]').count(), 1);
  // Messages stay held until she trusts the new keys; then they flow both ways again.
  const franksFingerprint = (await pageF2.locator('#my-fingerprint').textContent()) ?? '';
  await pageE.fill('[data-testid=trust-fingerprint]', franksFingerprint);
  await Promise.all([pageE.waitForEvent('load'), pageE.click('[data-testid=trust-keys]')]);
  await pageE.waitForSelector('[data-testid=connection][data-state=open]');
  await openChat(pageE, frank);
  // Trusting is not verifying.
  await pageE.waitForSelector('[data-testid=not-verified]');
  assert.equal(await messageState(pageE, held, 'in'), 'received');
  await waitState(pageF2, held, 'delivered');
  await sendText(pageE, 'new keys verified');
  assert.equal(await messageState(pageF2, 'new keys verified', 'in'), 'received');
  await sendText(pageF2, 'thanks for checking');
  assert.equal(await messageState(pageE, 'thanks for checking', 'in'), 'received');
  await waitState(pageF2, 'thanks for checking', 'delivered');
  assert.deepEqual(pageErrors, []);
  await ctxE.close();
  await ctxF2.close();
});

test('files go both ways byte-identical (0 B, 1 B, many chunks); an image shows inline and full size on click', async () => {
  const alice = name('alice');
  const bob = name('bob');
  const ctxA = await browser.newContext({ acceptDownloads: true });
  const ctxB = await browser.newContext({ acceptDownloads: true });
  const pageA = await open(ctxA);
  const pageB = await open(ctxB);
  await pair(pageA, alice, pageB, bob);
  // A 1x1 PNG: the sender draws its thumbnail, the recipient shows it inline.
  const png = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
    'base64',
  );
  const sent: TestFile[] = [
    { name: 'empty.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(0) },
    { name: 'one.bin', mimeType: 'application/octet-stream', buffer: Buffer.from([0xa5]) },
    { name: 'many.bin', mimeType: 'application/octet-stream', buffer: randomBytes(300_001) },
    { name: 'dot.png', mimeType: 'image/png', buffer: png },
  ];
  for (const [i, file] of sent.entries()) {
    const [from, to] = i % 2 === 0 ? [pageA, pageB] : [pageB, pageA];
    await sendAndSave(from, to, file);
  }
  const image = pageA.locator('[data-testid=message][data-direction=in] [data-testid=file-image]');
  assert.match((await image.getAttribute('src')) ?? '', /^data:image\/jpeg;base64,/);
  await image.click();
  assert.equal(await image.getAttribute('data-full'), 'true');
  assert.match((await image.getAttribute('src')) ?? '', /^blob:/);
  assert.deepEqual(pageErrors, []);
});

/** A file of `size` random bytes, written to disk for the page to pick (no inline copy). */
function fileOnDisk(fileName: string, size: number): TestFile {
  const buffer = randomBytes(size);
  const path = join(scratch, fileName);
  writeFileSync(path, buffer);
  return { name: fileName, mimeType: 'application/octet-stream', buffer, path };
}

// The size limit: the api's default API_ATTACHMENT_MAX_BYTES counts plaintext (its
// ciphertext limit is that plus the tags), so the largest file it takes is exactly this.
const limits: [string, number][] = [
  ['exactly one chunk', ATTACHMENT_CHUNK_BYTES],
  ['the size limit', DEFAULT_ATTACHMENT_MAX_BYTES],
];
for (const [label, size] of limits) {
  // Encrypting, uploading (the api reads it all back for the digest), downloading and
  // decrypting 25 MiB twice took minutes at a load average over 10 on 2 cores.
  test(
    `a file of ${label} (${size} B) goes both ways byte-identical through the Save link`,
    { timeout: 40 * 60_000 },
    async () => {
      const x = name('xena');
      const y = name('yuri');
      const ctxX = await browser.newContext({ acceptDownloads: true });
      const ctxY = await browser.newContext({ acceptDownloads: true });
      const pageX = await open(ctxX);
      const pageY = await open(ctxY);
      await pair(pageX, x, pageY, y);
      const wait = 15 * 60_000;
      const t0 = Date.now();
      await sendAndSave(pageX, pageY, fileOnDisk(`there-${size}.bin`, size), wait);
      const t1 = Date.now();
      await sendAndSave(pageY, pageX, fileOnDisk(`back-${size}.bin`, size), wait);
      // Figures, not pass marks: attach to the sender's delivered tick, each way.
      log(`${size} B: there in ${t1 - t0} ms, back in ${Date.now() - t1} ms`);
      assert.deepEqual(pageErrors, []);
      await ctxX.close();
      await ctxY.close();
    },
  );
}
