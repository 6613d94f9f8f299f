/**
 * EventRecorder's de-duplication (pure logic): the Kubernetes client is a recorder of the
 * calls it gets, passed in through the constructor.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CoreV1Api } from '@kubernetes/client-node';
import { EventRecorder } from '../../src/controller/events.js';
import { createLogger } from '../../src/logger.js';

function recorder(dedupeMs?: number) {
  const calls: Array<{ reason?: string }> = [];
  const core = {
    createNamespacedEvent: async (req: { body: { reason?: string } }) => {
      calls.push({ reason: req.body.reason });
      return {};
    },
  } as unknown as CoreV1Api;
  return { calls, events: new EventRecorder(core, createLogger('error'), 'test', dedupeMs) };
}

const on = {
  apiVersion: 'gossip.dev/v1',
  kind: 'GossipCluster',
  name: 'c',
  namespace: 'ns',
  uid: 'u1',
};

test('the same event for the same object is recorded once within dedupeMs', () => {
  const { calls, events } = recorder();
  events.record(on, 'Normal', 'Applied', 'all applied');
  events.record(on, 'Normal', 'Applied', 'all applied');
  events.record(on, 'Warning', 'Applied', 'all applied');
  events.record({ ...on, uid: 'u2' }, 'Normal', 'Applied', 'all applied');
  assert.deepEqual(
    calls.map((c) => c.reason),
    ['Applied', 'Applied', 'Applied'],
  );
});

test('after dedupeMs the event is recorded again; 0 turns de-duplication off', async () => {
  const short = recorder(30);
  short.events.record(on, 'Normal', 'Applied', 'x');
  short.events.record(on, 'Normal', 'Applied', 'x');
  assert.equal(short.calls.length, 1);
  await sleep(100);
  short.events.record(on, 'Normal', 'Applied', 'x');
  assert.equal(short.calls.length, 2);

  const off = recorder(0);
  off.events.record(on, 'Normal', 'Applied', 'x');
  off.events.record(on, 'Normal', 'Applied', 'x');
  assert.equal(off.calls.length, 2);
});
