/**
 * An invalid spec is a terminal error: the reconciler reports it in the status and as a
 * Warning event, then throws TerminalError so the controller does not retry it. The API
 * server rejects such specs itself, so this reaches the operator only when the installed
 * CRD is older (laxer) than the operator's rules; the test plays that by handing the
 * reconciler, against the real control plane, a cached copy the CRD would have refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { GossipCluster } from '@gossip/cdk8s';
import { EventRecorder } from '../../src/controller/events.js';
import { GossipClusterReconciler } from '../../src/controller/reconcile.js';
import { TerminalError } from '../../src/controller/result.js';
import { makeClients } from '../../src/kube/clients.js';
import {
  applyCluster,
  condition,
  core,
  getCluster,
  kc,
  testNamespace,
  waitFor,
} from './kube-helpers.js';

const ns = testNamespace('op-terminal');

test('an invalid spec is reported as InvalidConfiguration and thrown as a TerminalError', async () => {
  await applyCluster(ns, 'bad', { paused: true });
  const stored = (await getCluster(ns, 'bad')) as unknown as GossipCluster;
  const cached: GossipCluster = {
    ...stored,
    spec: { gateway: { minReplicas: 5, maxReplicas: 2 } },
  };
  const logger = pino({ level: 'silent' });
  const clients = makeClients(kc);
  const reconciler = new GossipClusterReconciler({
    clients,
    recorder: new EventRecorder(clients.core, logger, 'terminal-test'),
    secretRecheckMs: 60_000,
    cache: {
      cluster: (key) => (key === `${ns}/bad` ? cached : undefined),
      get: () => undefined,
      owned: () => [],
    },
  });

  await assert.rejects(reconciler.reconcile(`${ns}/bad`, logger), (err: unknown) => {
    assert.ok(err instanceof TerminalError, String(err));
    assert.match(err.message, /minReplicas must be less than or equal to gateway.maxReplicas/);
    return true;
  });
  const c = await getCluster(ns, 'bad');
  assert.equal(condition(c, 'Ready')?.status, 'False');
  assert.equal(condition(c, 'Ready')?.reason, 'InvalidConfiguration');
  assert.equal(condition(c, 'Degraded')?.status, 'True');
  await waitFor('the InvalidConfiguration Warning event', async () => {
    const events = await core.listNamespacedEvent({
      namespace: ns,
      fieldSelector: 'involvedObject.name=bad,type=Warning',
    });
    return events.items.some((e) => e.reason === 'InvalidConfiguration');
  });

  // A key that is no longer cached is gone: nothing to do, no error.
  assert.deepEqual(await reconciler.reconcile(`${ns}/other`, logger), {});
});
