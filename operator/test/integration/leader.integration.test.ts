/**
 * Two operator processes share one Lease: only the leader reconciles; killed with
 * SIGKILL (no chance to release the Lease), the standby takes over once the lease
 * expires (15 s) and reconciles what changed meanwhile.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoordinationV1Api } from '@kubernetes/client-node';
import {
  applyCluster,
  apps,
  kc,
  type RunningOperator,
  sample,
  startOperator,
  testNamespace,
  waitFor,
} from './kube-helpers.js';

const leases = kc.makeApiClient(CoordinationV1Api);
const ops = new Map<string, RunningOperator>();
const ns = testNamespace('op-leader', {
  setUp: async (namespace) => {
    const [a, b] = await Promise.all([
      startOperator({ namespace, identity: 'replica-a' }),
      startOperator({ namespace, identity: 'replica-b' }),
    ]);
    ops.set('replica-a', a);
    ops.set('replica-b', b);
  },
  tearDown: async () => {
    for (const op of ops.values()) await op.proc.stop();
  },
});

const holder = async () =>
  (await leases.readNamespacedLease({ name: 'gossip-operator', namespace: ns })).spec
    ?.holderIdentity;
const reconciles = (text: string) =>
  sample(text, 'gossip_operator_reconcile_total{controller="gossipcluster",result="success"}') ?? 0;

test('only the leader reconciles; after kill -9 the standby takes over and reconciles the change', async () => {
  const leaderId = await waitFor('a leader', async () => holder());
  const standbyId = leaderId === 'replica-a' ? 'replica-b' : 'replica-a';
  const leader = ops.get(leaderId)!;
  const standby = ops.get(standbyId)!;

  await applyCluster(ns, 'chat', { api: { replicas: 1 } });
  await waitFor('chat-api', async () =>
    apps.readNamespacedDeployment({ name: 'chat-api', namespace: ns }),
  );
  const lm = await waitFor('a finished reconcile on the leader', async () => {
    const text = await leader.metrics();
    return reconciles(text) > 0 && text;
  });
  const sm = await standby.metrics();
  assert.equal(sample(lm, 'gossip_operator_leader'), 1);
  assert.equal(sample(sm, 'gossip_operator_leader'), 0);
  assert.equal(reconciles(sm), 0, 'the standby did not reconcile');
  assert.equal((await fetch(`http://127.0.0.1:${standby.port}/readyz`)).status, 200);

  await leader.proc.kill9();
  const killed = Date.now();
  await applyCluster(ns, 'chat', { api: { replicas: 2 } });
  const after = await waitFor(
    'the standby to take the lease and reconcile the change',
    async () => {
      const d = await apps.readNamespacedDeployment({ name: 'chat-api', namespace: ns });
      if (d.spec?.replicas !== 2 || (await holder()) !== standbyId) return undefined;
      // The reconcile that wrote it has finished (it counts once its status is written).
      const text = await standby.metrics();
      return reconciles(text) > 0 && text;
    },
    // A bound on the wait, not on the takeover: the lease (15 s) must first expire, and on
    // a loaded machine the operator's next retry may come well after that.
    120_000,
  );
  const takeover = Date.now() - killed;
  assert.equal(sample(after, 'gossip_operator_leader'), 1);
  const code = await standby.proc.stop();
  assert.equal(code, 0, 'SIGTERM ends the operator cleanly');
  assert.equal(await holder(), '', 'and it released the lease on the way out');
  assert.match(standby.proc.output(), /released the leader lease/);
  console.log(`# standby reconciled ${takeover} ms after the leader was killed (lease 15 s)`);
});
