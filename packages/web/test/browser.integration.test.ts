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
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, repoRoot, WebStack } from './support/stack.js';

const stack = new WebStack();
let browser: Browser;
let baseUrl = '';
const pageErrors: string[] = [];

const log = (line: string): void => {
  process.stdout.write(`# ${line}\n`);
};

before(async () => {
  baseUrl = (await stack.start(log)).url;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await stack.stop();
});

const name = (who: string): string => `${who}_${randomBytes(4).toString('hex')}`;
const PASSWORD = 'correct horse battery';

async function open(ctx: BrowserContext): Promise<Page> {
  const page = await ctx.newPage();
  page.setDefaultTimeout(30_000);
  page.on('pageerror', (err) => pageErrors.push(err.message));
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
  await sendText(pageA, hello);
  assert.equal(await messageState(pageB, hello, 'in'), 'received');
  await waitState(pageA, hello, 'delivered');
  const reply = `Hello ${alice}! Loud and clear.`;
  await sendText(pageB, reply);
  assert.equal(await messageState(pageA, reply, 'in'), 'received');
  await waitState(pageB, reply, 'delivered');

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

  // The server never saw the plaintext, and the page threw nothing.
  const stored = await stack.databaseText();
  for (const text of [hello, reply, back, ...offline]) {
    assert.ok(!stored.includes(text), `plaintext in MongoDB: ${text}`);
    assert.ok(!stack.logs().includes(text), `plaintext in service logs: ${text}`);
  }
  assert.deepEqual(pageErrors, []);

  const dir = join(repoRoot, 'test-results');
  mkdirSync(dir, { recursive: true });
  await pageA.screenshot({ path: join(dir, 'chat.png') });
  await pageB.screenshot({ path: join(dir, 'chat-bob.png') });
  await ctxA.close();
  await ctxB.close();
});
