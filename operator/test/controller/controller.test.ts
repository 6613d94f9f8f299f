/**
 * The controller's contract with reconcile (controller-runtime's `reconcileHandler`): each
 * outcome maps to one queue action and one `result` label, read back from the registry
 * that `/metrics` serves. A real WorkQueue on a fake clock; reconcile is scripted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Controller } from '../../src/controller/controller.js';
import { TerminalError, type ReconcileResult } from '../../src/controller/result.js';
import { OperatorMetrics } from '../../src/metrics.js';
import { ItemExponentialFailureRateLimiter, WorkQueue } from '../../src/workqueue/index.js';
import { FakeClock } from '../support/fake-clock.js';

type Script = () => ReconcileResult | Error;

async function harness(script: Script[]) {
  const clock = new FakeClock();
  const metrics = new OperatorMetrics();
  const queue = new WorkQueue({
    clock,
    rateLimiter: new ItemExponentialFailureRateLimiter(100, 10_000),
    metrics: metrics.queueHooks('gossipcluster'),
  });
  const seen: string[] = [];
  const controller = new Controller({
    name: 'gossipcluster',
    queue,
    metrics,
    logger: pino({ level: 'silent' }),
    workers: 1,
    reconcile: async (key, log) => {
      assert.ok(log, 'reconcile gets a logger');
      seen.push(key);
      const next = script.shift();
      const r = next ? next() : {};
      if (r instanceof Error) throw r;
      return r;
    },
  });
  controller.start();
  const settle = () => new Promise((r) => setImmediate(r));
  const value = async (series: string, labels: Record<string, string>) => {
    const m = (await metrics.registry.getSingleMetric(series)!.get()).values;
    return m.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
  };
  const result = (r: string) => value('gossip_operator_reconcile_total', { result: r });
  return { clock, queue, seen, controller, settle, result, value };
}

test('requeueAfterMs reconciles the key again after that delay and counts requeue_after', async () => {
  const h = await harness([() => ({ requeueAfterMs: 2000 }), () => ({})]);
  h.queue.add('ns/a');
  await h.settle();
  assert.deepEqual(h.seen, ['ns/a']);
  h.clock.advance(1999);
  await h.settle();
  assert.deepEqual(h.seen, ['ns/a'], 'not before the delay');
  h.clock.advance(1);
  await h.settle();
  assert.deepEqual(h.seen, ['ns/a', 'ns/a']);
  assert.equal(await h.result('requeue_after'), 1);
  assert.equal(await h.result('success'), 1);
  await h.controller.stop();
});

test('requeue: true retries with the rate limiter and counts requeue, not an error', async () => {
  const h = await harness([() => ({ requeue: true }), () => ({})]);
  h.queue.add('ns/a');
  await h.settle();
  h.clock.advance(100);
  await h.settle();
  assert.deepEqual(h.seen, ['ns/a', 'ns/a']);
  assert.equal(await h.result('requeue'), 1);
  assert.equal(await h.value('gossip_operator_reconcile_errors_total', {}), 0);
  await h.controller.stop();
});

test('an error retries with backoff; a terminal error is counted and never retried', async () => {
  const h = await harness([
    () => new Error('boom'),
    () => ({}),
    () => new TerminalError('invalid spec'),
  ]);
  h.queue.add('ns/a');
  await h.settle();
  h.clock.advance(100);
  await h.settle();
  assert.deepEqual(h.seen, ['ns/a', 'ns/a'], 'retried after the 100 ms backoff');
  assert.equal(h.queue.numRequeues('ns/a'), 0, 'the success forgot the backoff');

  h.queue.add('ns/b');
  await h.settle();
  h.clock.advance(60_000);
  await h.settle();
  assert.deepEqual(h.seen, ['ns/a', 'ns/a', 'ns/b'], 'the terminal error is not retried');
  assert.equal(h.queue.numRequeues('ns/b'), 0);
  assert.equal(await h.result('error'), 2);
  assert.equal(await h.result('success'), 1);
  assert.equal(await h.value('gossip_operator_reconcile_errors_total', {}), 2);
  assert.equal(await h.value('gossip_operator_terminal_reconcile_errors_total', {}), 1);
  await h.controller.stop();
});
