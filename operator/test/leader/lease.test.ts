import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Lease } from '@kubernetes/client-node';
import { pino } from 'pino';
import { LeaderElector, type LeaseClient } from '../../src/leader/lease.js';

/** An in-memory Lease with the API server's optimistic concurrency (409 on a stale write). */
function leaseStore() {
  let stored: V1Lease | undefined;
  let version = 0;
  const conflict = () => Object.assign(new Error('Conflict'), { code: 409 });
  const clientFor = (partitioned: { value: boolean }): LeaseClient => ({
    async get() {
      if (partitioned.value) throw new Error('ECONNRESET');
      return stored && structuredClone(stored);
    },
    async create(lease) {
      if (partitioned.value) throw new Error('ECONNRESET');
      if (stored) throw conflict();
      stored = { ...lease, metadata: { resourceVersion: String(++version) } };
    },
    async replace(lease) {
      if (partitioned.value) throw new Error('ECONNRESET');
      if (lease.metadata?.resourceVersion !== stored?.metadata?.resourceVersion) throw conflict();
      stored = { ...lease, metadata: { resourceVersion: String(++version) } };
    },
  });
  return { clientFor, holder: () => stored?.spec?.holderIdentity };
}

function candidate(client: LeaseClient, identity: string) {
  const log: string[] = [];
  const elector = new LeaderElector({
    client,
    identity,
    leaseDurationMs: 1000,
    renewDeadlineMs: 600,
    retryPeriodMs: 100,
    logger: pino({ level: 'silent' }),
  });
  const stop = new AbortController();
  const done = elector.run(stop.signal, {
    onStartedLeading: () => void log.push('started'),
    onStoppedLeading: () => void log.push('stopped'),
  });
  return { elector, log, stop, done };
}

test('one of two candidates leads; the other takes over only after the lease expires', async (t) => {
  const store = leaseStore();
  const aNet = { value: false };
  const a = candidate(store.clientFor(aNet), 'a');
  await sleep(50);
  const b = candidate(store.clientFor({ value: false }), 'b');
  t.after(() => {
    a.stop.abort();
    b.stop.abort();
  });
  await sleep(400);
  assert.equal(store.holder(), 'a');
  assert.deepEqual(a.log, ['started']);
  assert.deepEqual(b.log, []);
  assert.equal(b.elector.isLeader(), false);

  // a is cut off from the API server: it stops leading after the renew deadline, and b
  // takes over once the lease it last saw renewed has gone unrenewed for its duration.
  aNet.value = true;
  const cut = Date.now();
  while (store.holder() !== 'b') {
    assert.ok(Date.now() - cut < 2500, 'b did not take over in time');
    await sleep(20);
  }
  const tookOver = Date.now() - cut;
  assert.ok(tookOver >= 800, `b took over after ${tookOver} ms, before the lease expired`);
  assert.deepEqual(a.log, ['started', 'stopped'], 'a stopped leading on its own');
  assert.equal(a.elector.isLeader(), false);
  assert.deepEqual(b.log, ['started']);
  a.stop.abort();
  b.stop.abort();
  await Promise.all([a.done, b.done]);
});

test('a leader that shuts down releases the lease and a standby takes over at once', async (t) => {
  const store = leaseStore();
  const a = candidate(store.clientFor({ value: false }), 'a');
  await sleep(50);
  const b = candidate(store.clientFor({ value: false }), 'b');
  t.after(() => {
    a.stop.abort();
    b.stop.abort();
  });
  await sleep(200);
  assert.equal(store.holder(), 'a');
  const t0 = Date.now();
  a.stop.abort();
  await a.done;
  assert.equal(store.holder(), '');
  while (store.holder() !== 'b') {
    assert.ok(Date.now() - t0 < 500, 'b did not take over promptly after the release');
    await sleep(10);
  }
  assert.deepEqual(a.log, ['started', 'stopped']);
  b.stop.abort();
  await b.done;
  assert.equal(store.holder(), '', 'b released too');
});
