import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setCondition } from '../../src/controller/conditions.js';
import { computeStatus, pausedConditions, statusChanged } from '../../src/controller/status.js';
import type { ClusterRef, WorkloadObservation } from '../../src/controller/status.js';

const ref = (conditions?: ClusterRef['conditions']): ClusterRef => ({
  name: 'chat',
  namespace: 'ns',
  generation: 3,
  conditions,
});
const w = (component: WorkloadObservation['component'], ready: number, desired = 1) => ({
  component,
  desired,
  generation: 2,
  observedGeneration: 2,
  readyReplicas: ready,
  updatedReplicas: desired,
});
const cond = (s: ReturnType<typeof computeStatus>, type: string) =>
  s.conditions?.find((c) => c.type === type);

test('GIVEN a condition WHEN its status is unchanged THEN lastTransitionTime is kept', () => {
  const first = setCondition(
    undefined,
    { type: 'Ready', status: 'False', reason: 'A', message: 'a' },
    't1',
    1,
  );
  const same = setCondition(
    first,
    { type: 'Ready', status: 'False', reason: 'B', message: 'b' },
    't2',
    2,
  );
  assert.equal(same[0]?.lastTransitionTime, 't1');
  assert.equal(same[0]?.reason, 'B');
  assert.equal(same[0]?.observedGeneration, 2);
  const flipped = setCondition(
    same,
    { type: 'Ready', status: 'True', reason: 'C', message: 'c' },
    't3',
    2,
  );
  assert.equal(flipped[0]?.lastTransitionTime, 't3');
  assert.equal(flipped.length, 1);
});

test('workloads not yet ready: Ready=False ComponentsNotReady, Progressing=True with a summary', () => {
  const s = computeStatus(ref(), [w('api', 1), w('gateway', 0, 2)], 't');
  assert.equal(s.observedGeneration, 3);
  assert.deepEqual(
    [cond(s, 'Ready')?.status, cond(s, 'Ready')?.reason],
    ['False', 'ComponentsNotReady'],
  );
  assert.equal(cond(s, 'Progressing')?.status, 'True');
  assert.equal(cond(s, 'Progressing')?.message, 'gateway 0/2 ready');
  assert.equal(cond(s, 'Degraded')?.status, 'False');
  assert.deepEqual(s.components?.gateway, { replicas: 2, readyReplicas: 0 });
  assert.deepEqual(s.endpoints, {
    api: 'http://chat-api.ns.svc:8080',
    gateway: 'ws://chat-gateway.ns.svc:8081/ws',
  });
});

test('a workload whose controller has not seen its new generation is still rolling out', () => {
  const stale = { ...w('api', 1), generation: 3, observedGeneration: 2 };
  const s = computeStatus(ref(), [stale], 't');
  assert.equal(cond(s, 'Ready')?.status, 'False');
  assert.equal(cond(s, 'Progressing')?.status, 'True');
});

test('every workload ready: Ready=True, Progressing=False', () => {
  const s = computeStatus(ref(), [w('api', 1), w('gateway', 2, 2)], 't');
  assert.deepEqual(
    s.conditions?.map((c) => [c.type, c.status, c.reason]),
    [
      ['Ready', 'True', 'AllComponentsReady'],
      ['Progressing', 'False', 'RolloutComplete'],
      ['Degraded', 'False', 'AsExpected'],
      ['ReconciliationPaused', 'False', 'NotPaused'],
    ],
  );
});

test('an invalid spec: Ready=False InvalidConfiguration, Degraded=True', () => {
  const s = computeStatus(ref(), [], 't', { permanent: true, message: 'gateway: bad' });
  assert.deepEqual(
    [cond(s, 'Ready')?.status, cond(s, 'Ready')?.reason, cond(s, 'Ready')?.message],
    ['False', 'InvalidConfiguration', 'gateway: bad'],
  );
  assert.equal(cond(s, 'Degraded')?.status, 'True');
});

test('a transient failure: Degraded=True ReconcileFailed', () => {
  const s = computeStatus(ref(), [w('api', 1)], 't', { permanent: false, message: '503: down' });
  assert.deepEqual(
    [cond(s, 'Degraded')?.status, cond(s, 'Degraded')?.reason],
    ['True', 'ReconcileFailed'],
  );
  assert.equal(cond(s, 'Ready')?.status, 'False');
});

test('pausing only flips ReconciliationPaused; statusChanged ignores key order', () => {
  const running = computeStatus(ref(), [w('api', 1)], 't1');
  const paused = pausedConditions(ref(running.conditions), 'annotation', 't2');
  assert.equal(paused.find((c) => c.type === 'ReconciliationPaused')?.status, 'True');
  assert.equal(paused.find((c) => c.type === 'Ready')?.lastTransitionTime, 't1');
  const again = computeStatus(ref(running.conditions), [w('api', 1)], 't9');
  assert.equal(statusChanged(running, again), false, 'same status: no write');
  const reordered = JSON.parse(
    JSON.stringify(running, (_k, v: unknown) =>
      v && typeof v === 'object' && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).reverse())
        : v,
    ),
  );
  assert.equal(statusChanged(reordered, again), false, 'the API server sorts keys');
  assert.equal(statusChanged(running, { ...again, observedGeneration: 4 }), true);
});
