/**
 * The Safety number screen's QR code (issue 16 §6), in Debian's Chromium against the real
 * api, gateway and engine: the code drawn on each page is screenshot as shown, decoded
 * with jsQR (an implementation other than the `qr` encoder the page uses), and must hold
 * `GOSSIP-SAFETY:1:` and the safety number computed here, in Node, from the two users'
 * public keys as the directory (MongoDB) holds them. When the contact publishes new keys,
 * the code on the page changes to the new safety number, which no longer matches the one
 * compared before.
 *
 * **Scan their code** is tried with Chromium's fake camera, fed a Y4M picture of the code
 * screenshot from the other page: the contact's current code is reported as matching, an
 * old one (from before the key change) visibly as a different safety number.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import jsQRModule from 'jsqr';
import { MongoClient } from 'mongodb';
import type { Browser, Page } from 'playwright-core';
import { safetyNumber as computeSafetyNumber } from '@gossip/crypto';
import { SAFETY_QR_PREFIX } from '../src/app/qr.js';
import { logIn, name, openChat, pair, Pages, safetyNumber } from './support/pages.js';
import { launchChromium, repoRoot, WebStack } from './support/stack.js';

// jsqr is CommonJS with `exports.default`: Node's default import is the exports object.
const jsQR = jsQRModule.default;
const stack = new WebStack();
let browser: Browser;
let baseUrl = '';
const pages = new Pages(() => baseUrl);
const scratch = mkdtempSync(join(tmpdir(), 'gossip-web-camera-'));
/** What Chromium's fake camera shows: rewritten before each scan. */
const CAMERA = join(scratch, 'camera.y4m');

before(async () => {
  baseUrl = (await stack.start((line) => process.stdout.write(`${line}\n`))).url;
  browser = await launchChromium([
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    `--use-file-for-fake-video-capture=${CAMERA}`,
  ]);
});

after(async () => {
  for (const line of pages.consoleLines) process.stdout.write(`page console ${line}\n`);
  await browser?.close();
  await stack.stop();
  rmSync(scratch, { recursive: true, force: true });
});

interface Pixels {
  width: number;
  height: number;
  rgba: number[];
}

/** The QR code the page shows, as pixels on screen, decoded; null if it does not decode. */
async function shownQr(page: Page): Promise<string | null> {
  const { width, height, rgba } = await qrPixels(page);
  const code = jsQR(Uint8ClampedArray.from(rgba), width, height);
  return code ? code.data : null;
}

/**
 * Makes the fake camera show `qr` in the middle of a white 640x480 picture: one Y4M
 * frame (4:2:0, no colour), which Chromium plays in a loop.
 */
function showOnCamera(qr: Pixels): void {
  const W = 640;
  const H = 480;
  assert.ok(qr.width <= W && qr.height <= H, 'the code fits the picture');
  const y = Buffer.alloc(W * H, 255);
  const left = (W - qr.width) >> 1;
  const top = (H - qr.height) >> 1;
  for (let row = 0; row < qr.height; row++) {
    for (let col = 0; col < qr.width; col++) {
      const i = (row * qr.width + col) * 4;
      const luma = (299 * qr.rgba[i]! + 587 * qr.rgba[i + 1]! + 114 * qr.rgba[i + 2]!) / 1000;
      y[(top + row) * W + left + col] = Math.round(luma);
    }
  }
  const chroma = Buffer.alloc((W / 2) * (H / 2) * 2, 128);
  const header = Buffer.from(`YUV4MPEG2 W${W} H${H} F10:1 Ip A1:1 C420jpeg\nFRAME\n`);
  writeFileSync(CAMERA, Buffer.concat([header, y, chroma]));
}

/** Clicks Scan their code with `qr` on the camera; returns the verdict shown. */
async function scan(page: Page, qr: Pixels): Promise<{ match: string | null; text: string }> {
  showOnCamera(qr);
  await page.click('[data-testid=scan-safety]');
  const result = page.locator('[data-testid=scan-result][data-match]');
  await result.waitFor({ timeout: 60_000 });
  return {
    match: await result.getAttribute('data-match'),
    text: (await result.textContent()) ?? '',
  };
}

/** The QR code on the page, screenshot as shown, as RGBA pixels. */
async function qrPixels(page: Page): Promise<Pixels> {
  const qr = page.locator('[data-testid=safety-qr]');
  await qr.waitFor();
  const png = await qr.screenshot();
  // The screenshot's pixels, read back in the page (Chromium decodes the PNG).
  return (await page.evaluate(`(async () => {
    const bytes = Uint8Array.from(atob('${png.toString('base64')}'), (c) => c.charCodeAt(0));
    const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d');
    ctx.drawImage(bitmap, 0, 0);
    const data = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
    return { width: bitmap.width, height: bitmap.height, rgba: Array.from(data) };
  })()`)) as Pixels;
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

  // Alice scans Bob's code with her camera: it matches.
  const oldCodeB = await qrPixels(pageB);
  assert.deepEqual(await scan(pageA, oldCodeB), {
    match: 'true',
    text: `✓ ${bob}'s code matches this safety number.`,
  });

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

  // Scanning the code Bob showed before his new keys is a visible mismatch; his new code
  // matches.
  const stale = await scan(pageA, oldCodeB);
  assert.equal(stale.match, 'false');
  assert.match(stale.text, /is a different safety number: do not trust these keys/);
  assert.ok(await pageA.locator('[data-testid=scan-result].error').isVisible());
  mkdirSync(join(repoRoot, 'test-results'), { recursive: true });
  await pageA.screenshot({ path: join(repoRoot, 'test-results', 'safety-qr-mismatch.png') });
  assert.equal((await scan(pageA, await qrPixels(pageB2))).match, 'true');
  assert.deepEqual(pages.errors, []);
});
