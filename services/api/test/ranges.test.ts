/** The attachment routes' byte-range headers, parsed without trusting them. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseContentRange, parseRange } from '../src/ranges.js';

test('Content-Range: START-END/TOTAL, END inclusive; anything else is null', () => {
  assert.deepEqual(parseContentRange('bytes 0-9/10'), { start: 0, end: 9, total: 10 });
  assert.deepEqual(parseContentRange(' bytes 5-5/6 '), { start: 5, end: 5, total: 6 });
  for (const bad of [
    undefined,
    '',
    'bytes 9-0/10',
    'bytes */10',
    'bytes 0-9/*',
    'items 0-9/10',
    'bytes -1-9/10',
    'bytes 0-9/10, 11-12/13',
    `bytes 0-${'9'.repeat(16)}/10`,
  ]) {
    assert.equal(parseContentRange(bad), null, String(bad));
  }
});

test('Range: none is everything; bytes=N- and bytes=N-M (capped); the rest unsatisfiable', () => {
  assert.deepEqual(parseRange(undefined, 10), { range: { start: 0, end: 9 }, partial: false });
  assert.deepEqual(parseRange('bytes=3-', 10), { range: { start: 3, end: 9 }, partial: true });
  assert.deepEqual(parseRange('bytes=3-5', 10), { range: { start: 3, end: 5 }, partial: true });
  assert.deepEqual(parseRange('bytes=3-99', 10), { range: { start: 3, end: 9 }, partial: true });
  for (const bad of ['bytes=10-', 'bytes=5-3', 'bytes=-5', 'bytes=0-1,3-4', 'items=0-1', '']) {
    assert.equal(parseRange(bad, 10), 'unsatisfiable', bad);
  }
});
