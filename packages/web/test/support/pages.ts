/**
 * Test support: what a person does on the web client's page (register, add a contact,
 * open a chat, write, send a file and save one) and what the tests read back from it
 * (message states, the safety number), through Playwright locators.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';

export const PASSWORD = 'correct horse battery';

/** A unique username starting with `who`. */
export const name = (who: string): string => `${who}_${randomBytes(4).toString('hex')}`;

/** Opens pages on one web server and keeps what they threw and warned. */
export class Pages {
  readonly errors: string[] = [];
  /** The pages' console warnings and errors, printed at the end to help read a failure. */
  readonly consoleLines: string[] = [];

  constructor(private readonly baseUrl: () => string) {}

  async open(ctx: BrowserContext): Promise<Page> {
    const page = await ctx.newPage();
    page.setDefaultTimeout(30_000);
    page.on('pageerror', (err) => this.errors.push(err.message));
    page.on('console', (m) => {
      // The gateway URL carries the access token: never print it.
      if (m.type() === 'error' || m.type() === 'warning')
        this.consoleLines.push(
          `${m.type()}: ${m.text().replace(/access_token=[^&'"\s]+/g, 'access_token=…')}`,
        );
    });
    await page.goto(this.baseUrl());
    return page;
  }
}

export async function register(page: Page, username: string): Promise<string> {
  await page.fill('#auth-user', username);
  await page.fill('#auth-pass', PASSWORD);
  await page.click('#register');
  await page.waitForSelector('#app-view:not([hidden])');
  await page.waitForSelector('[data-testid=connection][data-state=open]');
  const fp = await page.textContent('[data-testid=my-fingerprint]');
  return fp ?? '';
}

/** Logs in on the sign-in form and waits until the page is connected. */
export async function logIn(page: Page, username: string): Promise<void> {
  await page.fill('#auth-user', username);
  await page.fill('#auth-pass', PASSWORD);
  await page.click('#login');
  await page.waitForSelector('[data-testid=connection][data-state=open]');
}

export async function openChat(page: Page, peer: string): Promise<void> {
  const contact = page.locator(`[data-testid=contact-${peer}][data-state=accepted] button.link`);
  await contact.waitFor();
  await contact.click();
  await page.waitForSelector('[data-testid=composer]');
}

/** Registers both, makes them contacts and opens their chats. */
export async function pair(pageX: Page, x: string, pageY: Page, y: string): Promise<void> {
  await register(pageX, x);
  await register(pageY, y);
  await pageX.fill('#add-user', y);
  await pageX.click('#add-form button[type=submit]');
  await pageY.click(`[data-testid=accept-${x}]`);
  await openChat(pageY, x);
  await openChat(pageX, y);
}

export async function sendText(page: Page, text: string): Promise<void> {
  await page.fill('[data-testid=composer]', text);
  await page.click('[data-testid=send]');
}

/** Waits until the chat shows `text` in a message going `direction`; returns its state. */
export async function messageState(
  page: Page,
  text: string,
  direction: 'in' | 'out',
): Promise<string> {
  const msg = page.locator(`[data-testid=message][data-direction=${direction}]`, {
    hasText: text,
  });
  await msg.waitFor();
  return (await msg.getAttribute('data-state')) ?? '';
}

export async function waitState(
  page: Page,
  text: string,
  state: string,
  timeout?: number,
): Promise<void> {
  await page
    .locator(`[data-testid=message][data-direction=out][data-state=${state}]`, { hasText: text })
    .waitFor(timeout === undefined ? {} : { timeout });
}

export async function safetyNumber(page: Page): Promise<string> {
  await page.click('[data-testid=show-safety]');
  const text = await page.locator('[data-testid=safety-number]').textContent();
  return (text ?? '').trim();
}

/** A file to attach: its bytes, and a path on disk if it is too big to hand over inline. */
export interface TestFile {
  name: string;
  mimeType: string;
  buffer: Buffer;
  path?: string;
}

/**
 * Attaches `file` on `from`, waits for its Save link on `to` (the file arrived and passed
 * the SDK's checks), saves it there and checks it is byte-identical, then waits for the
 * sender's `delivered`. `timeout` bounds each wait (a big file is slow on a loaded box).
 */
export async function sendAndSave(
  from: Page,
  to: Page,
  file: TestFile,
  timeout = 30_000,
): Promise<void> {
  await from.setInputFiles(
    '[data-testid=attach]',
    file.path ?? { name: file.name, mimeType: file.mimeType, buffer: file.buffer },
  );
  const line = `📎 ${file.name} (${file.buffer.length} bytes)`;
  const row = to.locator('[data-testid=message][data-direction=in]', { hasText: line });
  const save = row.locator('[data-testid=file-save]');
  await save.waitFor({ timeout });
  const [download] = await Promise.all([to.waitForEvent('download', { timeout }), save.click()]);
  const got = readFileSync(await download.path());
  assert.equal(got.length, file.buffer.length, `${file.name}: size`);
  assert.ok(got.equals(file.buffer), `${file.name} arrived byte-identical`);
  await waitState(from, line, 'delivered', timeout);
}
