import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  encodeFields,
  fromBase64,
  fromBase64Url,
  fromHex,
  toBase64,
  toBase64Url,
  toHex,
} from '../src/bytes.js';
import { CryptoError } from '../src/errors.js';

test('base64 round-trips every byte value and matches Node', () => {
  const all = new Uint8Array(256).map((_, i) => i);
  assert.equal(toBase64(all), Buffer.from(all).toString('base64'));
  assert.deepEqual(fromBase64(toBase64(all)), all);
  assert.equal(toBase64Url(all), Buffer.from(all).toString('base64url'));
  assert.deepEqual(fromBase64Url(toBase64Url(all)), all);
});

test('base64 decoding is strict: whitespace, missing padding, bad characters and non-zero unused bits are refused', () => {
  for (const bad of ['AAA', 'AA A', 'AAAA\n', 'A-_A', 'AA=A', '====', 'QR==', 'QUI=x===']) {
    assert.throws(
      () => fromBase64(bad),
      (e: unknown) => e instanceof CryptoError && e.code === 'bad_format',
      bad,
    );
  }
  assert.throws(() => fromBase64Url('A+AA'), CryptoError);
  // Without Buffer (as in a browser) the same answers.
  const { Buffer: saved } = globalThis as { Buffer?: unknown };
  try {
    for (const bad of ['AA A', 'QR==', 'A-_A']) {
      delete (globalThis as { Buffer?: unknown }).Buffer;
      assert.throws(() => fromBase64(bad), CryptoError, bad);
    }
  } finally {
    (globalThis as { Buffer?: unknown }).Buffer = saved;
  }
});

test('hex round-trips', () => {
  assert.equal(toHex(fromHex('00ff10AB')), '00ff10ab');
  assert.throws(() => fromHex('abc'), CryptoError);
});

test('encodeFields is injective where separator-joining is not', () => {
  const a = encodeFields(['a|b', 'c']);
  const b = encodeFields(['a', 'b|c']);
  assert.notDeepEqual(a, b);
  assert.equal(toHex(encodeFields(['ab', new Uint8Array([1])])), '00000002616200000001' + '01');
});

test('no module in src imports node: built-ins, so the package runs in browsers', () => {
  const dir = join(fileURLToPath(new URL('.', import.meta.url)), '../src');
  // Recursive: src/v2/ is checked too.
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) =>
    f.endsWith('.ts'),
  );
  assert.ok(files.includes(join('v2', 'ratchet.ts')), 'src/v2 is among the files checked');
  for (const file of files) {
    const text = readFileSync(join(dir, file), 'utf8');
    assert.doesNotMatch(text, /from '(node:|crypto'|fs'|path')/, file);
    assert.doesNotMatch(text, /\bBuffer\.|require\(/, file);
  }
});
