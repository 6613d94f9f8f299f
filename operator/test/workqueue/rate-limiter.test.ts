import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BucketRateLimiter,
  ItemExponentialFailureRateLimiter,
  defaultControllerRateLimiter,
} from '../../src/workqueue/index.js';
import { FakeClock } from '../support/fake-clock.js';

test('per-key backoff doubles from 5 ms and is capped at 1000 s', () => {
  const l = new ItemExponentialFailureRateLimiter(5, 1_000_000);
  const delays = Array.from({ length: 10 }, () => l.when('a'));
  assert.deepEqual(delays, [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560]);
  for (let i = 0; i < 200; i++) l.when('a');
  assert.equal(l.when('a'), 1_000_000);
  assert.equal(l.numRequeues('a'), 211);
  assert.equal(l.when('b'), 5, 'keys back off independently');
  l.forget('a');
  assert.equal(l.numRequeues('a'), 0);
  assert.equal(l.when('a'), 5, 'forget restarts the backoff');
});

test('token bucket allows the burst, then one key per 1/qps seconds', () => {
  const clock = new FakeClock();
  const l = new BucketRateLimiter(clock, 10, 100);
  for (let i = 0; i < 100; i++) assert.equal(l.when(`k${i}`), 0);
  assert.equal(Math.round(l.when('x')), 100);
  assert.equal(Math.round(l.when('y')), 200, 'reservations queue up behind each other');
  clock.advance(1000);
  // 10 tokens came back, 2 were already reserved: 8 free, then waits again.
  for (let i = 0; i < 8; i++) assert.equal(l.when(`z${i}`), 0);
  assert.equal(Math.round(l.when('w')), 100);
});

test('the default limiter takes the longer of backoff and bucket', () => {
  const clock = new FakeClock();
  const l = defaultControllerRateLimiter(clock);
  assert.equal(l.when('a'), 5);
  assert.equal(l.when('a'), 10);
  for (let i = 0; i < 200; i++) l.when(`b${i}`);
  assert.ok(l.when('c') >= 1000, 'bucket exhausted: the overall limit dominates');
});
