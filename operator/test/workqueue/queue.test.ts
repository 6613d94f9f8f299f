import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ItemExponentialFailureRateLimiter, WorkQueue } from '../../src/workqueue/index.js';
import { FakeClock } from '../support/fake-clock.js';

function queue(clock = new FakeClock()) {
  const events: string[] = [];
  const q = new WorkQueue({
    clock,
    rateLimiter: new ItemExponentialFailureRateLimiter(5, 1_000_000),
    metrics: {
      add: () => events.push('add'),
      retry: () => events.push('retry'),
      depth: (d) => events.push(`depth:${d}`),
      queueDuration: (s) => events.push(`queued:${s}`),
      workDuration: (s) => events.push(`work:${s}`),
    },
  });
  return { q, clock, events };
}

test('a key added many times is queued once', async () => {
  const { q } = queue();
  q.add('ns/a');
  q.add('ns/a');
  q.add('ns/b');
  q.add('ns/a');
  assert.equal(q.len(), 2);
  assert.equal(await q.get(), 'ns/a');
  assert.equal(await q.get(), 'ns/b');
  assert.equal(q.len(), 0);
});

test('a key added while it is processed is re-queued after done, never handed out twice', async () => {
  const { q } = queue();
  q.add('ns/a');
  const first = await q.get();
  assert.equal(first, 'ns/a');
  q.add('ns/a');
  q.add('ns/a');
  assert.equal(q.len(), 0, 'not queued while a worker holds it');
  let second: string | undefined;
  void q.get().then((k) => (second = k));
  await Promise.resolve();
  assert.equal(second, undefined, 'a second worker does not get it concurrently');
  q.done('ns/a');
  await Promise.resolve();
  assert.equal(second, 'ns/a', 'handed out again once, after done');
  q.done('ns/a');
  assert.equal(q.len(), 0);
  assert.equal(q.inFlight(), 0);
});

test('addAfter waits on the clock and keeps the earliest time per key', async () => {
  const { q, clock } = queue();
  q.addAfter('ns/a', 100);
  q.addAfter('ns/a', 50);
  q.addAfter('ns/a', 500);
  clock.advance(49);
  assert.equal(q.len(), 0);
  clock.advance(1);
  assert.equal(q.len(), 1);
  clock.advance(1000);
  assert.equal(q.len(), 1, 'the later requests were merged, not queued again');
  assert.equal(clock.pending(), 0);
  assert.equal(await q.get(), 'ns/a');
});

test('addRateLimited backs off per key until forget', async () => {
  const { q, clock, events } = queue();
  q.addRateLimited('ns/a');
  clock.advance(4);
  assert.equal(q.len(), 0);
  clock.advance(1);
  assert.equal(q.len(), 1);
  q.done((await q.get())!);
  q.addRateLimited('ns/a');
  clock.advance(9);
  assert.equal(q.len(), 0);
  clock.advance(1);
  assert.equal(q.len(), 1);
  assert.equal(q.numRequeues('ns/a'), 2);
  q.forget('ns/a');
  assert.equal(q.numRequeues('ns/a'), 0);
  assert.equal(events.filter((e) => e === 'retry').length, 2);
});

test('metrics hooks report adds, depth, queue and work durations', async () => {
  const { q, clock, events } = queue();
  q.add('ns/a');
  clock.advance(2000);
  const k = (await q.get())!;
  clock.advance(500);
  q.done(k);
  assert.deepEqual(events, ['add', 'depth:1', 'depth:0', 'queued:2', 'work:0.5']);
});

test('shutdown releases waiting workers, refuses new keys and drains in-flight work', async () => {
  const { q, clock } = queue();
  q.add('ns/a');
  const held = (await q.get())!;
  const waiting = q.get();
  q.addAfter('ns/b', 100);
  let drained = false;
  const drain = q.shutDownWithDrain().then(() => (drained = true));
  assert.equal(await waiting, undefined);
  q.add('ns/c');
  clock.advance(1000);
  assert.equal(q.len(), 0, 'no keys accepted after shutdown, delayed ones dropped');
  await Promise.resolve();
  assert.equal(drained, false, 'drain waits for the key in flight');
  q.done(held);
  await drain;
  assert.equal(drained, true);
  assert.equal(await q.get(), undefined);
});
