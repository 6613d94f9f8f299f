import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff, backoffDelay } from '../src/backoff.js';

test('the delay doubles from initialMs and stays at maxMs', () => {
  const opts = { initialMs: 250, maxMs: 5_000 };
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 2_000].map((n) => backoffDelay(n, opts)),
    [250, 500, 1_000, 2_000, 4_000, 5_000, 5_000, 5_000],
  );
});

test('equal jitter stays between half and all of the capped delay', () => {
  const at = (r: number) =>
    backoffDelay(3, { initialMs: 100, maxMs: 10_000, jitter: 'equal', random: () => r });
  assert.deepEqual([at(0), at(0.5), at(0.999999)], [400, 600, 800]);
});

test('proportional jitter adds up to the given fraction', () => {
  const at = (r: number) =>
    backoffDelay(0, { initialMs: 800, maxMs: 30_000, jitter: 0.5, random: () => r });
  assert.deepEqual([at(0), at(1)], [800, 1_200]);
});

test('Backoff counts attempts until reset', () => {
  const b = new Backoff({ initialMs: 10, maxMs: 1_000 });
  assert.deepEqual([b.next(), b.next(), b.next()], [10, 20, 40]);
  assert.equal(b.attempt, 3);
  b.reset();
  assert.equal(b.attempt, 0);
  assert.equal(b.next(), 10);
});
