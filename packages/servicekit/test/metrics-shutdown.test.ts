import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { Counter } from 'prom-client';
import { createLogger, createMetricsRegistry, installShutdown, runStoppers } from '../src/index.js';

const quiet = createLogger({
  name: 't',
  destination: new Writable({ write: (_c, _e, cb) => cb() }),
});

test('createMetricsRegistry gives separate registries with gossip_ default metrics', async () => {
  const a = createMetricsRegistry({ labels: { service: 'a' } });
  const b = createMetricsRegistry();
  new Counter({ name: 'gossip_test_total', help: 'h', registers: [a] });
  const text = await a.metrics();
  assert.match(text, /gossip_process_cpu_user_seconds_total/);
  assert.match(text, /gossip_test_total\{service="a"\} 0/);
  assert.doesNotMatch(await b.metrics(), /gossip_test_total/);
  const none = createMetricsRegistry({ defaultMetrics: false });
  assert.equal(await none.metrics(), '\n');
});

test('runStoppers runs in order and goes on after a failure', async () => {
  const order: string[] = [];
  const r = await runStoppers(
    [
      { name: 'http', stop: async () => void order.push('http') },
      {
        name: 'broken',
        stop: () => {
          throw new Error('boom');
        },
      },
      { name: 'db', stop: () => void order.push('db') },
    ],
    { timeoutMs: 1000, logger: quiet },
  );
  assert.deepEqual(order, ['http', 'db']);
  assert.deepEqual(r, { ok: false, timedOut: false, failed: ['broken'] });
});

test('runStoppers gives up at the deadline', async () => {
  const started = Date.now();
  const r = await runStoppers([{ name: 'stuck', stop: () => sleep(5000) }], { timeoutMs: 100 });
  assert.equal(r.timedOut, true);
  assert.ok(Date.now() - started < 1000);
});

test('installShutdown stops on a signal and exits 0', async () => {
  const codes: number[] = [];
  let stopped = false;
  const { dispose } = installShutdown([{ name: 's', stop: () => void (stopped = true) }], {
    logger: quiet,
    signals: ['SIGUSR2'],
    exit: (c) => void codes.push(c),
  });
  process.kill(process.pid, 'SIGUSR2');
  await sleep(100);
  dispose();
  assert.equal(stopped, true);
  assert.deepEqual(codes, [0]);
});
