/**
 * The GossipCluster controller against the real kube-apiserver, etcd and
 * kube-controller-manager, with the operator running as a real process. The tests run in
 * order and share one cluster `chat` in one namespace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { PatchStrategy, setHeaderOptions, type KubernetesObject } from '@kubernetes/client-node';
import {
  buildClusterObjects,
  dataRetentionFinalizer,
  generatedSecretNames,
  instanceLabels,
  type GossipCluster,
} from '@gossip/cdk8s';
import {
  applyCluster,
  apps,
  condition,
  core,
  custom,
  gc,
  getCluster,
  kubectl,
  markPodsReady,
  objects,
  sample,
  testOperator,
  waitFor,
} from './kube-helpers.js';

const { ns, operator } = testOperator('op-reconcile', { identity: 'reconcile-test' });
const name = 'chat';
const spec = {
  gateway: { minReplicas: 2, maxReplicas: 4 },
  dataRetentionPolicy: 'Delete',
};

async function read(o: { apiVersion: string; kind: string; metadata: { name: string } }) {
  return objects.read({ ...o, metadata: { name: o.metadata.name, namespace: ns } });
}

test('a new GossipCluster gets every object with a controller owner reference; Progressing, then Ready', async () => {
  await applyCluster(ns, name, spec);
  const cluster = (await getCluster(ns, name)) as unknown as GossipCluster & {
    metadata: { uid: string };
  };
  const expected = [
    ...buildClusterObjects(cluster, { namespace: ns }),
    ...Object.values(generatedSecretNames(name)).map((n) => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: n },
    })),
  ];
  assert.ok(expected.length >= 20, `expected many objects, got ${expected.length}`);
  for (const o of expected) {
    const got = await waitFor(`${o.kind} ${o.metadata.name}`, () => read(o));
    const ref = got.metadata?.ownerReferences?.[0];
    assert.deepEqual(
      ref && { ...ref },
      {
        apiVersion: 'gossip.dev/v1alpha1',
        kind: 'GossipCluster',
        name,
        uid: cluster.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
      `${o.kind} ${o.metadata.name} is owned by the cluster`,
    );
  }
  const progressing = await waitFor('Progressing=True', async () => {
    const c = await getCluster(ns, name);
    return condition(c, 'Progressing')?.status === 'True' && c;
  });
  assert.equal(condition(progressing, 'Ready')?.status, 'False');
  assert.equal(condition(progressing, 'Ready')?.reason, 'ComponentsNotReady');
  assert.equal(progressing.status?.observedGeneration, 1);
  assert.equal(progressing.status?.endpoints?.api, `http://chat-api.${ns}.svc:8080`);

  const ready = await waitFor(
    'Ready=True after the pods are marked ready',
    async () => {
      await markPodsReady(ns);
      const c = await getCluster(ns, name);
      return condition(c, 'Ready')?.status === 'True' && c;
    },
    60_000,
  );
  assert.equal(condition(ready, 'Ready')?.reason, 'AllComponentsReady');
  assert.equal(condition(ready, 'Progressing')?.status, 'False');
  assert.equal(condition(ready, 'Degraded')?.status, 'False');
  assert.deepEqual(ready.status?.components?.gateway, { replicas: 2, readyReplicas: 2 });
  assert.deepEqual(ready.status?.components?.mongodb, { replicas: 1, readyReplicas: 1 });

  const events = await core.listNamespacedEvent({
    namespace: ns,
    fieldSelector: `involvedObject.kind=GossipCluster,involvedObject.name=${name}`,
  });
  const reasons = new Set(events.items.map((e) => e.reason));
  assert.ok(reasons.has('Created'), `events: ${[...reasons].join(', ')}`);
  assert.ok(reasons.has('SecretCreated'), `events: ${[...reasons].join(', ')}`);
});

test('kubectl get gossipclusters shows the printer columns', async () => {
  // Fully qualified: other suites on the same control plane install look-alike CRDs.
  const out = await kubectl('get', 'gossipclusters.gossip.dev', '-n', ns);
  const [header, row] = out.trim().split('\n');
  assert.match(header ?? '', /^NAME\s+READY\s+GATEWAYS\s+CONNECTIONS\s+.*AGE/);
  assert.match(row ?? '', /^chat\s+True\s/);
  const resources = await kubectl('api-resources', '--api-group=gossip.dev', '--no-headers');
  assert.match(resources, /^gossipclusters\s+gsc\s+gossip\.dev\/v1alpha1\s+true\s+GossipCluster/m);
});

test('changing replicas, image and retention rolls out; observedGeneration follows', async () => {
  const jwtBefore = await core.readNamespacedSecret({ name: 'chat-jwt', namespace: ns });
  await applyCluster(ns, name, {
    ...spec,
    api: { replicas: 3 },
    image: { tag: '0.2.0' },
    retention: { messageSeconds: 3600 },
  });
  const generation = (await getCluster(ns, name)).metadata?.generation;
  assert.equal(generation, 2);
  await waitFor('api replicas 3 and image tag 0.2.0', async () => {
    const d = await apps.readNamespacedDeployment({ name: 'chat-api', namespace: ns });
    const image = d.spec?.template.spec?.containers[0]?.image ?? '';
    return d.spec?.replicas === 3 && image.endsWith(':0.2.0');
  });
  await waitFor('the engine config to carry the new retention', async () => {
    const [cm, d] = await Promise.all([
      core.readNamespacedConfigMap({ name: 'chat-engine', namespace: ns }),
      apps.readNamespacedDeployment({ name: 'chat-engine', namespace: ns }),
    ]);
    const text = JSON.stringify(cm.data) + JSON.stringify(d.spec?.template.spec?.containers);
    return text.includes('3600');
  });
  await waitFor('observedGeneration 2', async () => {
    const c = await getCluster(ns, name);
    return c.status?.observedGeneration === 2 && condition(c, 'Ready')?.observedGeneration === 2;
  });
  const jwtAfter = await core.readNamespacedSecret({ name: 'chat-jwt', namespace: ns });
  assert.equal(jwtAfter.metadata?.resourceVersion, jwtBefore.metadata?.resourceVersion);
  assert.deepEqual(jwtAfter.data, jwtBefore.data, 'the generated JWT key is never overwritten');
});

test('the signing key pair: private keys for the api only, the public half for the gateways', async () => {
  const keys = async (secret: string, key: string) => {
    const s = await core.readNamespacedSecret({ name: secret, namespace: ns });
    const text = Buffer.from(s.data?.[key] ?? '', 'base64').toString('utf8');
    return (JSON.parse(text) as { keys: Array<Record<string, string>> }).keys;
  };
  const [priv] = await keys('chat-jwt', 'private-keys');
  const pub = await keys('chat-jwt-public', 'public-keys');
  assert.deepEqual([priv?.kty, priv?.crv, typeof priv?.d], ['OKP', 'Ed25519', 'string']);
  assert.deepEqual(
    pub.map((k) => [k.kid, k.x, k.d]),
    [[priv?.kid, priv?.x, undefined]],
    "the gateways' Secret holds the public key only",
  );
  const envOf = async (deployment: string) => {
    const d = await apps.readNamespacedDeployment({ name: deployment, namespace: ns });
    return d.spec?.template.spec?.containers[0]?.env ?? [];
  };
  const gatewayEnv = await envOf('chat-gateway');
  assert.deepEqual(
    gatewayEnv
      .filter((e) => e.valueFrom?.secretKeyRef?.name?.startsWith('chat-jwt'))
      .map((e) => [e.name, e.valueFrom?.secretKeyRef?.name]),
    [['GATEWAY_JWT_PUBLIC_KEYS', 'chat-jwt-public']],
  );
  const apiEnv = await envOf('chat-api');
  assert.ok(
    apiEnv.some(
      (e) => e.name === 'API_JWT_PRIVATE_KEYS' && e.valueFrom?.secretKeyRef?.name === 'chat-jwt',
    ),
  );
});

test('a deleted Deployment is re-created and a hand-edited one is restored', async () => {
  const before = await apps.readNamespacedDeployment({ name: 'chat-gateway', namespace: ns });
  await apps.deleteNamespacedDeployment({ name: 'chat-gateway', namespace: ns });
  await waitFor('chat-gateway to be re-created', async () => {
    const d = await apps.readNamespacedDeployment({ name: 'chat-gateway', namespace: ns });
    return d.metadata?.uid !== before.metadata?.uid && d;
  });
  await kubectl(
    'patch',
    'deployment',
    'chat-api',
    '-n',
    ns,
    '--type=merge',
    '-p',
    JSON.stringify({ spec: { replicas: 7 } }),
  );
  await kubectl(
    'set',
    'image',
    'deployment/chat-engine',
    '-n',
    ns,
    'engine=evil.example/engine:1',
  ).catch(async () => {
    // the container may have another name: edit the first one by JSON patch
    await kubectl(
      'patch',
      'deployment',
      'chat-engine',
      '-n',
      ns,
      '--type=json',
      '-p',
      JSON.stringify([
        {
          op: 'replace',
          path: '/spec/template/spec/containers/0/image',
          value: 'evil.example/engine:1',
        },
      ]),
    );
  });
  await waitFor('hand edits to be reverted', async () => {
    const [a, e] = await Promise.all([
      apps.readNamespacedDeployment({ name: 'chat-api', namespace: ns }),
      apps.readNamespacedDeployment({ name: 'chat-engine', namespace: ns }),
    ]);
    return (
      a.spec?.replicas === 3 && !e.spec?.template.spec?.containers[0]?.image?.startsWith('evil')
    );
  });
});

test('a changed Secret the pods read rolls them: the config hash in the pod template changes', async () => {
  const hash = async () =>
    (await apps.readNamespacedDeployment({ name: 'chat-api', namespace: ns })).spec?.template
      .metadata?.annotations?.['gossip.dev/config-hash'];
  const before = await hash();
  assert.ok(before, 'the pod template carries a config hash');
  await core.patchNamespacedSecret(
    {
      name: 'chat-jwt',
      namespace: ns,
      body: { metadata: { annotations: { rotated: 'by-hand' } } },
    },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  await waitFor('a new config hash on chat-api', async () => (await hash()) !== before);
});

test('the pause annotation stops changes and sets ReconciliationPaused; removing it resumes', async () => {
  await kubectl(
    'annotate',
    'gossipcluster',
    name,
    '-n',
    ns,
    'gossip.dev/pause-reconciliation=true',
  );
  await waitFor('ReconciliationPaused=True', async () => {
    const c = await getCluster(ns, name);
    return condition(c, 'ReconciliationPaused')?.status === 'True';
  });
  await applyCluster(ns, name, { ...spec, api: { replicas: 1 }, image: { tag: '0.2.0' } });
  await sleep(3000);
  const paused = await apps.readNamespacedDeployment({ name: 'chat-api', namespace: ns });
  assert.equal(paused.spec?.replicas, 3, 'nothing changes while paused');
  await kubectl(
    'annotate',
    'gossipclusters.gossip.dev',
    name,
    '-n',
    ns,
    'gossip.dev/pause-reconciliation-',
  );
  await waitFor('the change to roll out after resuming', async () => {
    const d = await apps.readNamespacedDeployment({ name: 'chat-api', namespace: ns });
    const c = await getCluster(ns, name);
    return d.spec?.replicas === 1 && condition(c, 'ReconciliationPaused')?.status === 'False';
  });
});

test('/metrics reports reconciles, durations, queue depth and leadership', async () => {
  const text = await operator().metrics();
  assert.ok(
    (sample(text, 'gossip_operator_reconcile_total{controller="gossipcluster",result="success"}') ??
      0) > 0,
  );
  assert.equal(sample(text, 'gossip_operator_leader'), 1);
  assert.ok(
    sample(text, 'gossip_operator_reconcile_time_seconds_count{controller="gossipcluster"}')! > 0,
  );
  assert.ok(sample(text, 'gossip_operator_workqueue_depth{name="gossipcluster"}') !== undefined);
  assert.ok(sample(text, 'gossip_operator_workqueue_adds_total{name="gossipcluster"}')! > 0);
  for (const series of [
    'gossip_operator_reconcile_errors_total',
    'gossip_operator_workqueue_retries_total',
    'gossip_operator_workqueue_queue_duration_seconds_bucket',
    'gossip_operator_workqueue_work_duration_seconds_bucket',
  ]) {
    assert.ok(text.includes(series), `${series} is exported`);
  }
  const ready = await fetch(`http://127.0.0.1:${operator().port}/readyz`);
  assert.equal(ready.status, 200);
});

/** A list request for what carries the instance label of the GossipCluster `instance`. */
const ofInstance = (instance: string) => ({
  namespace: ns,
  labelSelector: `app.kubernetes.io/instance=${instance}`,
});

async function ownedLeft(instance: string): Promise<string[]> {
  const lists = await Promise.all([
    apps.listNamespacedDeployment(ofInstance(instance)),
    apps.listNamespacedStatefulSet(ofInstance(instance)),
    core.listNamespacedService(ofInstance(instance)),
    core.listNamespacedConfigMap(ofInstance(instance)),
  ]);
  return lists.flatMap((l) =>
    l.items.map((i: KubernetesObject) => `${i.kind ?? ''}${i.metadata?.name}`),
  );
}

/** The finalizers GossipCluster `instance` carries now. */
async function finalizersOf(instance: string): Promise<string[]> {
  const c = (await getCluster(ns, instance)) as { metadata?: { finalizers?: string[] } };
  return c.metadata?.finalizers ?? [];
}

test('deleting the GossipCluster garbage-collects what it owns; Delete policy removes the PVCs, one the StatefulSet controller never owned too', async () => {
  await waitFor('the PVCs of the managed stores', async () => {
    const pvcs = await core.listNamespacedPersistentVolumeClaim(ofInstance(name));
    return pvcs.items.length >= 3;
  });
  assert.deepEqual(await finalizersOf(name), [dataRetentionFinalizer]);
  // A claim as the StatefulSet controller leaves one when the set is deleted before its next
  // sync (kubernetes/kubernetes#142130): the cluster's labels, no owner reference.
  const stray = await core.createNamespacedPersistentVolumeClaim({
    namespace: ns,
    body: {
      metadata: {
        name: `data-${name}-mongodb-9`,
        labels: instanceLabels(name),
      },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
    },
  });
  assert.deepEqual(stray.metadata?.ownerReferences ?? [], []);
  await custom.deleteNamespacedCustomObject({ ...gc, namespace: ns, name });
  await waitFor(
    'owned objects to be garbage collected',
    async () => (await ownedLeft(name)).length === 0,
    120_000,
  );
  await waitFor(
    'PVCs deleted under dataRetentionPolicy Delete',
    async () => {
      const pvcs = await core.listNamespacedPersistentVolumeClaim(ofInstance(name));
      const left = pvcs.items.filter((p) => !p.metadata?.deletionTimestamp);
      // On failure, say who owns the claims that are left (the StatefulSet controller adds
      // an owner reference to them under whenDeleted: Delete).
      if (left.length === 0) return true;
      const owners = left.map(
        (p) => `${p.metadata?.name} owners=${JSON.stringify(p.metadata?.ownerReferences ?? [])}`,
      );
      throw new Error(owners.join('; '));
    },
    120_000,
  );
  await waitFor(
    'the generated Secrets to go too',
    async () => {
      const s = await core.listNamespacedSecret(ofInstance(name));
      return s.items.length === 0;
    },
    120_000,
  );
});

test('under dataRetentionPolicy Retain the PVCs and credentials outlive the cluster', async () => {
  await applyCluster(ns, 'keep', { dataRetentionPolicy: 'Retain', gateway: { minReplicas: 1 } });
  await waitFor('the PVCs of keep', async () => {
    const pvcs = await core.listNamespacedPersistentVolumeClaim(ofInstance('keep'));
    return pvcs.items.length >= 3;
  });
  assert.deepEqual(await finalizersOf('keep'), [], 'no finalizer under Retain');
  await custom.deleteNamespacedCustomObject({ ...gc, namespace: ns, name: 'keep' });
  await waitFor(
    'keep objects to be garbage collected',
    async () => (await ownedLeft('keep')).length === 0,
    120_000,
  );
  await sleep(2000);
  const pvcs = await core.listNamespacedPersistentVolumeClaim(ofInstance('keep'));
  assert.equal(pvcs.items.filter((p) => !p.metadata?.deletionTimestamp).length, 3);
  const secrets = await core.listNamespacedSecret(ofInstance('keep'));
  assert.deepEqual(secrets.items.map((s) => s.metadata?.name).sort(), [
    'keep-mongodb',
    'keep-rabbitmq',
    'keep-rabbitmq-users',
    'keep-redis',
    'keep-redis-users',
  ]);
});
