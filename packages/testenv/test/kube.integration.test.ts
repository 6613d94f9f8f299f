// Proves the control plane is a real one: the apiserver serves CRDs and their
// objects, kube-controller-manager turns a Deployment into a ReplicaSet, and its
// garbage collector removes the ReplicaSet when the Deployment goes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  ApiextensionsV1Api,
  KubeConfig,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { eventually, testEnv, uniqueName } from '../src/index.js';

const env = testEnv();
const kc = new KubeConfig();
kc.loadFromFile(env.kubeconfig);
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const ext = kc.makeApiClient(ApiextensionsV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const ns = uniqueName('smoke-kube');

/** The waits here: up to a minute, four polls a second. */
const until = <T>(what: string, check: () => Promise<T | undefined>): Promise<T> =>
  eventually(check, what, 60_000, 250);

before(async () => {
  await core.createNamespace({ body: { metadata: { name: ns } } });
});
after(async () => {
  await core.deleteNamespace({ name: ns }).catch(() => undefined);
});

test('a CRD registers and serves objects of its kind', async () => {
  const group = `${uniqueName('smoke')}.example.com`;
  const crd: V1CustomResourceDefinition = {
    metadata: { name: `widgets.${group}` },
    spec: {
      group,
      scope: 'Namespaced',
      names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: { type: 'object', properties: { size: { type: 'integer', minimum: 1 } } },
              },
            },
          },
        },
      ],
    },
  };
  await ext.createCustomResourceDefinition({ body: crd });
  after(() =>
    ext.deleteCustomResourceDefinition({ name: `widgets.${group}` }).catch(() => undefined),
  );
  await until('the CRD to be established', async () => {
    const got = await ext.readCustomResourceDefinition({ name: `widgets.${group}` });
    return got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')
      ? true
      : undefined;
  });
  const body = {
    apiVersion: `${group}/v1`,
    kind: 'Widget',
    metadata: { name: 'w1' },
    spec: { size: 3 },
  };
  await until('the new kind to be served', () =>
    custom.createNamespacedCustomObject({
      group,
      version: 'v1',
      namespace: ns,
      plural: 'widgets',
      body,
    }),
  );
  const got = (await custom.getNamespacedCustomObject({
    group,
    version: 'v1',
    namespace: ns,
    plural: 'widgets',
    name: 'w1',
  })) as { spec: { size: number } };
  assert.equal(got.spec.size, 3);
  await assert.rejects(
    custom.createNamespacedCustomObject({
      group,
      version: 'v1',
      namespace: ns,
      plural: 'widgets',
      body: { ...body, metadata: { name: 'w2' }, spec: { size: 0 } },
    }),
    /spec.size/,
    'the schema is enforced by the server',
  );
});

test('kube-controller-manager creates the ReplicaSet and garbage-collects it', async () => {
  await apps.createNamespacedDeployment({
    namespace: ns,
    body: {
      metadata: { name: 'web' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'web', image: 'registry.invalid/web:1' }] },
        },
      },
    },
  });
  const rs = await until('a ReplicaSet owned by the Deployment', async () => {
    const list = await apps.listNamespacedReplicaSet({ namespace: ns });
    return list.items.find((r) => r.metadata?.ownerReferences?.some((o) => o.name === 'web'));
  });
  assert.equal(rs.spec?.replicas, 1);
  await apps.deleteNamespacedDeployment({
    name: 'web',
    namespace: ns,
    propagationPolicy: 'Background',
  });
  await until('the ReplicaSet to be garbage collected', async () => {
    const list = await apps.listNamespacedReplicaSet({ namespace: ns });
    return list.items.length === 0 ? true : undefined;
  });
});
