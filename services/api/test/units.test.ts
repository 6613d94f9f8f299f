import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sniffImageType } from '../src/avatars.js';
import { hashPassword, verifyPassword } from '../src/passwords.js';

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

test('the default cost (2^15, r=8) runs within Node memory limits', async () => {
  const started = Date.now();
  const h = await hashPassword('correct horse battery staple', 15);
  const ms = Date.now() - started;
  assert.equal(await verifyPassword('correct horse battery staple', h), true);
  console.log(`scrypt N=2^15 r=8 p=1: ${ms} ms per hash`);
});
