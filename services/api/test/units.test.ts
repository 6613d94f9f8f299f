import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sniffImageType } from '../src/avatars.js';
import { ApiEnv } from '../src/config.js';
import {
  HashPool,
  OWASP_SCRYPT,
  hashPassword,
  needsRehash,
  scryptOptions,
  verifyPassword,
} from '../src/passwords.js';

test('sniffImageType recognises PNG, JPEG and WebP by magic bytes only', () => {
  const png = Buffer.from('89504e470d0a1a0a0000', 'hex');
  const jpeg = Buffer.from('ffd8ffe000104a464946', 'hex');
  const webp = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WEBPVP8 ')]);
  assert.equal(sniffImageType(png), 'image/png');
  assert.equal(sniffImageType(jpeg), 'image/jpeg');
  assert.equal(sniffImageType(webp), 'image/webp');
  assert.equal(sniffImageType(Buffer.from('GIF89a')), null);
  assert.equal(sniffImageType(Buffer.from('<svg/>')), null);
  assert.equal(sniffImageType(png.subarray(0, 7)), null);
  assert.equal(
    sniffImageType(Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WAVE')])),
    null,
  );
  assert.equal(sniffImageType(new Uint8Array()), null);
});

test('scrypt hashes are salted, carry their parameters and verify only the right password', async () => {
  const a = await hashPassword('pässword one', 10);
  const b = await hashPassword('pässword one', 10);
  assert.notEqual(a, b);
  assert.match(a, /^scrypt\$10\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
  assert.equal(await verifyPassword('pässword one', a), true);
  // NFC and NFD spellings of the same text are the same password.
  assert.equal(await verifyPassword('pa\u0308ssword one', a), true);
  assert.equal(await verifyPassword('pässword two', a), false);
  assert.equal(await verifyPassword('pässword one', 'plain'), false);
  assert.equal(await verifyPassword('x', 'scrypt$10$8$1$AAAA$'), false);
});

test("the default cost is OWASP's scrypt guidance (N=2^17, r=8, p=1) and fits maxmem", async () => {
  assert.deepEqual({ ...OWASP_SCRYPT }, { logN: 17, r: 8, p: 1 });
  const scryptLogN = ApiEnv.properties.API_SCRYPT_LOG_N.default as number;
  assert.equal(scryptLogN, 17);
  // 128 * N * r bytes: 128 MiB, more than Node's 32 MiB default maxmem.
  assert.ok(scryptOptions(17, 8, 1).maxmem! >= 128 * 2 ** 17 * 8);
  const h = await hashPassword('correct horse battery staple', scryptLogN);
  assert.match(h, /^scrypt\$17\$8\$1\$/);
  assert.equal(await verifyPassword('correct horse battery staple', h), true);
});

test('needsRehash: another cost or an unknown scheme needs a new hash', async () => {
  const h = await hashPassword('pw', 10);
  assert.equal(needsRehash(h, 10), false);
  assert.equal(needsRehash(h, 17), true);
  assert.equal(needsRehash('scrypt$17$4$1$AAAA$AAAA', 17), true);
  assert.equal(needsRehash('bcrypt$whatever', 17), true);
});

test('HashPool runs at most `concurrency` jobs, queues `maxQueue` and refuses the rest', async () => {
  const pool = new HashPool(2, 3);
  const gates: Array<() => void> = [];
  const job = () => new Promise<string>((resolve) => gates.push(() => resolve('done')));
  const results = Array.from({ length: 7 }, () =>
    pool.run(job).then(
      (v) => v,
      (err: { code?: string }) => err.code,
    ),
  );
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(pool.stats(), { running: 2, queued: 3 });
  assert.equal(gates.length, 2);
  // Each finished job hands its slot to the next in the queue.
  while (gates.length > 0) {
    gates.shift()!();
    await new Promise((r) => setImmediate(r));
  }
  assert.deepEqual(await Promise.all(results), [
    'done',
    'done',
    'done',
    'done',
    'done',
    'unavailable',
    'unavailable',
  ]);
  assert.deepEqual(pool.stats(), { running: 0, queued: 0 });
});
