/**
 * The web client end to end in a real browser: Debian's Chromium, driven by
 * playwright-core, against the real api, gateway and engine processes (on the test
 * environment's RabbitMQ, Redis and FerretDB) behind the web server.
 *
 * Two browser contexts (two people) register, request and accept each other, compare
 * the safety number shown on both pages, chat both ways with delivery states, then one
 * closes its page (offline) while the other writes, and finds the messages when it
 * comes back (session and keys from IndexedDB, undelivered messages from the server).
 * A screenshot of the chat is saved as test-results/chat.png.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { STORAGE_PROBE } from './support/storage-probe.js';
import { launchChromium, repoRoot, WebStack } from './support/stack.js';

const stack = new WebStack();
let browser: Browser;
let baseUrl = '';
const pageErrors: string[] = [];
/** The pages' console warnings and errors, printed at the end to help read a failure. */
const consoleLines: string[] = [];

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

before(async () => {
  baseUrl = (await stack.start(log)).url;
  browser = await launchChromium();
});

after(async () => {
  for (const line of consoleLines) log(`page console ${line}`);
  await browser?.close();
  await stack.stop();
});

const name = (who: string): string => `${who}_${randomBytes(4).toString('hex')}`;
const PASSWORD = 'correct horse battery';

async function open(ctx: BrowserContext): Promise<Page> {
  const page = await ctx.newPage();
  page.setDefaultTimeout(30_000);
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (m) => {
    // The gateway URL carries the access token: never print it.
    if (m.type() === 'error' || m.type() === 'warning')
      consoleLines.push(
        `${m.type()}: ${m.text().replace(/access_token=[^&'"\s]+/g, 'access_token=…')}`,
      );
  });
  await page.goto(baseUrl);
  return page;
}

async function register(page: Page, username: string): Promise<string> {
  await page.fill('#auth-user', username);
  await page.fill('#auth-pass', PASSWORD);
  await page.click('#register');
  await page.waitForSelector('#app-view:not([hidden])');
  await page.waitForSelector('[data-testid=connection][data-state=open]');
  const fp = await page.textContent('[data-testid=my-fingerprint]');
  return fp ?? '';
}

async function openChat(page: Page, peer: string): Promise<void> {
  const contact = page.locator(`[data-testid=contact-${peer}][data-state=accepted] button.link`);
  await contact.waitFor();
  await contact.click();
  await page.waitForSelector('[data-testid=composer]');
}

async function sendText(page: Page, text: string): Promise<void> {
  await page.fill('[data-testid=composer]', text);
  await page.click('[data-testid=send]');
}

/** Waits until the chat shows `text` in a message going `direction`; returns its state. */
async function messageState(page: Page, text: string, direction: 'in' | 'out'): Promise<string> {
  const msg = page.locator(`[data-testid=message][data-direction=${direction}]`, {
    hasText: text,
  });
  await msg.waitFor();
  return (await msg.getAttribute('data-state')) ?? '';
}

async function waitState(page: Page, text: string, state: string): Promise<void> {
  await page
    .locator(`[data-testid=message][data-direction=out][data-state=${state}]`, { hasText: text })
    .waitFor();
}

async function safetyNumber(page: Page): Promise<string> {
  await page.click('[data-testid=show-safety]');
  const text = await page.locator('[data-testid=safety-number]').textContent();
  return (text ?? '').trim();
}

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
  await pageB.fill('#auth-user', bob);
  await pageB.fill('#auth-pass', PASSWORD);
  await pageB.click('#login');
  await pageB.waitForSelector('[data-testid=connection][data-state=open]');
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

/** Registers both, makes them contacts and opens their chats. */
async function pair(pageX: Page, x: string, pageY: Page, y: string): Promise<void> {
  await register(pageX, x);
  await register(pageY, y);
  await pageX.fill('#add-user', y);
  await pageX.click('#add-form button[type=submit]');
  await pageY.click(`[data-testid=accept-${x}]`);
  await openChat(pageY, x);
  await openChat(pageX, y);
}

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
  await pageF2.fill('#auth-user', frank);
  await pageF2.fill('#auth-pass', PASSWORD);
  await pageF2.click('#login');
  await pageF2.waitForSelector('[data-testid=connection][data-state=open]');

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
  const sent = [
    { name: 'empty.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(0) },
    { name: 'one.bin', mimeType: 'application/octet-stream', buffer: Buffer.from([0xa5]) },
    { name: 'many.bin', mimeType: 'application/octet-stream', buffer: randomBytes(300_001) },
    { name: 'dot.png', mimeType: 'image/png', buffer: png },
  ];
  for (const [i, file] of sent.entries()) {
    const [from, to] = i % 2 === 0 ? [pageA, pageB] : [pageB, pageA];
    await from.setInputFiles('[data-testid=attach]', file);
    const line = `📎 ${file.name} (${file.buffer.length} bytes)`;
    const row = to.locator('[data-testid=message][data-direction=in]', { hasText: line });
    const save = row.locator('[data-testid=file-save]');
    await save.waitFor();
    const [download] = await Promise.all([to.waitForEvent('download'), save.click()]);
    const path = await download.path();
    const got = readFileSync(path);
    assert.ok(got.equals(file.buffer), `${file.name} arrived byte-identical`);
    await waitState(from, line, 'delivered');
  }
  const image = pageA.locator('[data-testid=message][data-direction=in] [data-testid=file-image]');
  assert.match((await image.getAttribute('src')) ?? '', /^data:image\/jpeg;base64,/);
  await image.click();
  assert.equal(await image.getAttribute('data-full'), 'true');
  assert.match((await image.getAttribute('src')) ?? '', /^blob:/);
  assert.deepEqual(pageErrors, []);
});
