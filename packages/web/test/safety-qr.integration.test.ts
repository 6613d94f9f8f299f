/**
 * The Safety number screen's QR code (issue 16 §6), in Debian's Chromium against the real
 * api, gateway and engine: the code drawn on each page is screenshot as shown, decoded
 * with jsQR (an implementation other than the `qr` encoder the page uses), and must hold
 * `GOSSIP-SAFETY:1:` and the safety number computed here, in Node, from the two users'
 * public keys as the directory (MongoDB) holds them. When the contact publishes new keys,
 * the code on the page changes to the new safety number, which no longer matches the one
 * compared before.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import jsQRModule from 'jsqr';
import { MongoClient } from 'mongodb';
import type { Browser, Page } from 'playwright-core';
import { safetyNumber as computeSafetyNumber } from '@gossip/crypto';
import { SAFETY_QR_PREFIX } from '../src/app/qr.js';
import { logIn, name, openChat, pair, Pages, safetyNumber } from './support/pages.js';
import { launchChromium, WebStack } from './support/stack.js';

// jsqr is CommonJS with `exports.default`: Node's default import is the exports object.
const jsQR = jsQRModule.default;
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

/** The QR code the page shows, as pixels on screen, decoded; null if it does not decode. */
async function shownQr(page: Page): Promise<string | null> {
  const qr = page.locator('[data-testid=safety-qr]');
  await qr.waitFor();
  const png = await qr.screenshot();
  // The screenshot's pixels, read back in the page (Chromium decodes the PNG).
  const { width, height, rgba } = (await page.evaluate(`(async () => {
    const bytes = Uint8Array.from(atob('${png.toString('base64')}'), (c) => c.charCodeAt(0));
    const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d');
    ctx.drawImage(bitmap, 0, 0);
    const data = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
    return { width: bitmap.width, height: bitmap.height, rgba: Array.from(data) };
  })()`)) as { width: number; height: number; rgba: number[] };
  const code = jsQR(Uint8ClampedArray.from(rgba), width, height);
  return code ? code.data : null;
}

/** The safety number of two users from their keys in the directory, computed in Node. */
async function directorySafetyNumber(a: string, b: string): Promise<string> {
  const client = new MongoClient(stack.env.mongoUrl);
  try {
    const users = client.db(stack.dbName).collection<{
      _id: string;
      keys: { wrappingKey: string; signingKey: string };
    }>('users');
    const keysOf = async (username: string) => {
      const u = await users.findOne({ _id: username });
      assert.ok(u, `${username} is in the directory`);
      return { username, wrappingKey: u.keys.wrappingKey, signingKey: u.keys.signingKey };
    };
    return await computeSafetyNumber(await keysOf(a), await keysOf(b));
  } finally {
    await client.close();
  }
}

test('the Safety number screen shows a QR code of the safety number, and it changes with the keys', async () => {
  const alice = name('alice');
  const bob = name('bob');
  const pageA = await pages.open(await browser.newContext());
  const ctxB = await browser.newContext();
  const pageB = await pages.open(ctxB);
  await pair(pageA, alice, pageB, bob);

  const expected = await directorySafetyNumber(alice, bob);
  assert.match(expected, /^\d{60}$/);
  const shownA = await safetyNumber(pageA);
  const shownB = await safetyNumber(pageB);
  assert.equal(shownA.replace(/\s/g, ''), expected, 'the digits shown are the safety number');
  assert.equal(shownB, shownA);
  const qrA = await shownQr(pageA);
  const qrB = await shownQr(pageB);
  assert.equal(qrA, SAFETY_QR_PREFIX + expected, "alice's QR code holds the safety number");
  assert.equal(qrB, qrA, "bob's QR code is the same");

  // Bob logs in from a browser without his keys and publishes new ones: Alice's screen
  // now shows the new number, and its code differs from the one compared before.
  await ctxB.close();
  const pageB2 = await pages.open(await browser.newContext());
  pageB2.on('dialog', (d) => void d.accept());
  await logIn(pageB2, bob);
  await pageA.waitForSelector('[data-testid=key-warning]');
  const renewed = await directorySafetyNumber(alice, bob);
  assert.notEqual(renewed, expected);
  const qrAfter = await shownQr(pageA);
  assert.equal(qrAfter, SAFETY_QR_PREFIX + renewed, 'the code follows the new keys');
  assert.notEqual(qrAfter, qrA, 'the code compared before no longer matches');
  await openChat(pageB2, alice);
  await safetyNumber(pageB2);
  assert.equal(await shownQr(pageB2), qrAfter, "bob's new page shows the same new code");
  assert.deepEqual(pages.errors, []);
});
