/**
 * Transient failures are retried, reported and recovered from: a cluster whose external
 * MongoDB Secret does not exist yet is Degraded (ReconcileFailed, a Warning event, retries
 * with backoff); creating the Secret lets the next retry pass, and its resourceVersion feeds
 * the pods' config hash, so editing it later rolls the pods. The operator reads the Secret by
 * name and never watches Secrets, so an edit is seen at the re-reconcile that a cluster with
 * external Secrets asks for (`requeueAfter`, 2 s here; the resync is out of reach at 600 s).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyCluster,
  apps,
  condition,
  core,
  getCluster,
  sample,
  testOperator,
  waitFor,
} from './kube-helpers.js';

const { ns, operator } = testOperator('op-external', {
  identity: 'external-test',
  env: { OPERATOR_RESYNC_SECONDS: '600', OPERATOR_SECRET_RECHECK_SECONDS: '2' },
});

const engineHash = async () =>
  (await apps.readNamespacedDeployment({ name: 'ext-engine', namespace: ns })).spec?.template
    .metadata?.annotations?.['gossip.dev/config-hash'];

test('a missing external Secret degrades the cluster until it appears; editing it rolls the pods at the next requeueAfter re-reconcile', async () => {
  await applyCluster(ns, 'ext', {
    mongodb: { external: { secretRef: { name: 'mongo-conn', key: 'url' } } },
  });
  const degraded = await waitFor('Degraded=True', async () => {
    const c = await getCluster(ns, 'ext');
    return condition(c, 'Degraded')?.status === 'True' && c;
  });
  assert.equal(condition(degraded, 'Degraded')?.reason, 'ReconcileFailed');
  assert.match(condition(degraded, 'Degraded')?.message ?? '', /mongo-conn.*does not exist/);
  const warnings = await core.listNamespacedEvent({
    namespace: ns,
    fieldSelector: 'involvedObject.name=ext,type=Warning',
  });
  assert.ok(warnings.items.some((e) => e.reason === 'ReconcileFailed'));
  await waitFor('a retry', async () => {
    const m = await operator().metrics();
    return (sample(m, 'gossip_operator_workqueue_retries_total{name="gossipcluster"}') ?? 0) >= 2;
  });

  await core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: 'mongo-conn' }, stringData: { url: 'mongodb://db.example:27017/' } },
  });
  await waitFor('Degraded=False once the Secret exists', async () => {
    const c = await getCluster(ns, 'ext');
    return condition(c, 'Degraded')?.status === 'False';
  });
  const before = await waitFor('the engine Deployment', engineHash);
  await core.replaceNamespacedSecret({
    name: 'mongo-conn',
    namespace: ns,
    body: { metadata: { name: 'mongo-conn' }, stringData: { url: 'mongodb://db2.example:27017/' } },
  });
  await waitFor('a new config hash after the external Secret changed', async () => {
    const h = await engineHash();
    return h !== before;
  });
  const m = await operator().metrics();
  assert.ok(
    (sample(
      m,
      'gossip_operator_reconcile_total{controller="gossipcluster",result="requeue_after"}',
    ) ?? 0) > 0,
    'the timed re-reconciles are counted as requeue_after',
  );
  const statefulSets = await apps.listNamespacedStatefulSet({ namespace: ns });
  assert.deepEqual(
    statefulSets.items.map((s) => s.metadata?.name).sort(),
    ['ext-rabbitmq', 'ext-redis'],
    'no managed MongoDB when it is external',
  );
});
