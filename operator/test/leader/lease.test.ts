import { test, type TestContext } from 'node:test';
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

function candidate(client: LeaseClient, identity: string, leaseDurationMs = 1000) {
  const log: string[] = [];
  const elector = new LeaderElector({
    client,
    identity,
    leaseDurationMs,
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

/**
 * Candidate `a`, then `b` 50 ms later (so `a` finds the lease free and leads), both stopped
 * when the test ends.
 */
async function twoCandidates(
  t: TestContext,
  clientA: LeaseClient,
  clientB: LeaseClient,
  leaseDurationMs?: number,
) {
  const a = candidate(clientA, 'a', leaseDurationMs);
  await sleep(50);
  const b = candidate(clientB, 'b', leaseDurationMs);
  t.after(() => {
    a.stop.abort();
    b.stop.abort();
  });
  return { a, b };
}

/** Polls until `b` holds the lease; `what` says why it should (a bound on the wait only). */
async function untilHeldByB(store: ReturnType<typeof leaseStore>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (store.holder() !== 'b') {
    if (Date.now() > deadline) assert.fail(`b never took over (${what})`);
    await sleep(20);
  }
}

test('one of two candidates leads; the other takes over only after the lease expires', async (t) => {
  const store = leaseStore();
  const aNet = { value: false };
  const { a, b } = await twoCandidates(t, store.clientFor(aNet), store.clientFor({ value: false }));
  await sleep(400);
  assert.equal(store.holder(), 'a');
  assert.deepEqual(a.log, ['started']);
  assert.deepEqual(b.log, []);
  assert.equal(b.elector.isLeader(), false);

  // a is cut off from the API server: it stops leading after the renew deadline, and b
  // takes over once the lease it last saw renewed has gone unrenewed for its duration.
  aNet.value = true;
  const cut = Date.now();
  await untilHeldByB(store, 'the lease a held expired');
  const tookOver = Date.now() - cut;
  assert.ok(tookOver >= 800, `b took over after ${tookOver} ms, before the lease expired`);
  console.log(`# b took over ${tookOver} ms after a was cut off (lease 1 s)`);
  assert.deepEqual(a.log, ['started', 'stopped'], 'a stopped leading on its own');
  assert.equal(a.elector.isLeader(), false);
  assert.deepEqual(b.log, ['started']);
  a.stop.abort();
  b.stop.abort();
  await Promise.all([a.done, b.done]);
});

test('a leader that shuts down releases the lease and a standby takes over at once', async (t) => {
  const store = leaseStore();
  // A lease of 10 minutes: b can only take over through a's release, not by its expiry.
  const client = () => store.clientFor({ value: false });
  const { a, b } = await twoCandidates(t, client(), client(), 600_000);
  await sleep(200);
  assert.equal(store.holder(), 'a');
  const t0 = Date.now();
  a.stop.abort();
  await a.done;
  assert.equal(store.holder(), '');
  await untilHeldByB(store, 'a released the lease');
  console.log(`# b took over ${Date.now() - t0} ms after a released the lease`);
  assert.deepEqual(a.log, ['started', 'stopped']);
  b.stop.abort();
  await b.done;
  assert.equal(store.holder(), '', 'b released too');
});
