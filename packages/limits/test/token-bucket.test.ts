import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenBucket } from '../src/token-bucket.js';

test('a bucket starts full, empties, and refills at its rate up to its burst', () => {
  let now = 1_000;
  const b = new TokenBucket(10, 3, () => now);
  assert.deepEqual([b.take(), b.take(), b.take(), b.take()], [true, true, true, false]);
  assert.equal(b.msUntilNext(), 100);
  now += 100;
  assert.equal(b.take(), true);
  assert.equal(b.take(), false);
  now += 60_000;
  assert.deepEqual([b.take(), b.take(), b.take(), b.take()], [true, true, true, false]);
});

test('msUntilNext never asks for less than 5 ms', () => {
  let now = 0;
  const b = new TokenBucket(1_000, 1, () => now);
  b.take();
  now += 0.5;
  assert.equal(b.msUntilNext(), 5);
});

test('reserve takes a token on credit and says how long until it is paid back', () => {
  let now = 0;
  const b = new TokenBucket(10, 2, () => now);
  assert.deepEqual([b.reserve(), b.reserve()], [0, 0]);
  assert.equal(b.reserve(), 100);
  assert.equal(b.reserve(), 200);
  now += 200;
  assert.equal(b.take(), false, 'the refill paid the reservations back first');
  now += 100;
  assert.equal(b.take(), true);
});

test('a bucket that could never give a token is refused', () => {
  assert.throws(() => new TokenBucket(0, 5), /perSecond > 0/);
  assert.throws(() => new TokenBucket(5, 0), /burst >= 1/);
});
