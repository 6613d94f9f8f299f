/**
 * Spec changes on real pods (issue 14 §3 test 6): engine replicas, resources and
 * `spec.version` roll the Deployments out to Ready pods; a Deployment scaled by hand is put
 * back; the pause annotation stops a spec change from being applied and lifting it applies it;
 * deleting the GossipCluster lets the garbage collector remove everything it owns while the
 * data volumes follow `spec.dataRetentionPolicy` (Retain: kept, with their credentials;
 * Delete: removed with the StatefulSets).
 *
 * The version change needs two image tags: the built `:dev` images are tagged in the node's
 * containerd under two versions of this run's own (removed again at the end), and the cluster
 * names its images by registry/repository with the tag from `spec.version`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { PAUSE_ANNOTATION } from '@gossip/operator';
import { eventually, uniqueName } from '@gossip/testenv';
import { kubectl } from '../../src/index.js';
import {
  LOCAL,
  apply,
  clusterManifest,
  clusterStatus,
  componentPods,
  diagnose,
  dropNamespace,
  env,
  image,
  installOperator,
  json,
  ready,
  reportFigures,
  requireNode,
  smallRequests,
  waitClusterReady,
  type Condition,
  type Pod,
} from './support.js';

const ns = uniqueName('rollout');
const cluster = 'roll';
const figures: string[] = [];
const APPS = ['api', 'gateway', 'engine'] as const;
const suffix = Math.random().toString(36).slice(2, 8);
/** Two versions of this run's own, both the built images under another tag. */
const V1 = `0.1.0-rollout.${suffix}`;
const V2 = `0.1.1-rollout.${suffix}`;
const tagged = (c: string, v: string): string => `${LOCAL}/gossip/${c}:${v}`;
const PAUSE = PAUSE_ANNOTATION;

/** `ctr` against the node's containerd, in the namespace the kubelet's images live in. */
const ctr = (args: string[]): string =>
  execFileSync('ctr', ['--address', env.node!.containerdSocket, '-n', 'k8s.io', ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });

before(() => {
  requireNode();
  for (const c of APPS) {
    for (const v of [V1, V2]) {
      ctr(['images', 'tag', '--force', image(c), tagged(c, v)]);
    }
  }
});

after(() => {
  reportFigures('rollout.cluster.ts', figures);
  dropNamespace(ns);
  for (const c of APPS) {
    for (const v of [V1, V2]) {
      try {
        ctr(['images', 'rm', tagged(c, v)]);
      } catch {
        // already gone
      }
    }
  }
});

interface Deployment {
  metadata: { generation: number };
  spec: {
    replicas: number;
    template: {
      spec: {
        containers: {
          image: string;
          resources?: { requests?: Record<string, string> };
        }[];
      };
    };
  };
  status: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
  };
}

const deploy = (c: string): Deployment =>
  json<Deployment>(['-n', ns, 'get', 'deploy', `${cluster}-${c}`]);

/** A Deployment fully rolled out: observed, every replica updated, Ready, and no old pod left. */
function rolledOut(c: string, replicas: number): boolean {
  const d = deploy(c);
  const s = d.status;
  return (
    d.spec.replicas === replicas &&
    (s.observedGeneration ?? 0) >= d.metadata.generation &&
    s.updatedReplicas === replicas &&
    s.readyReplicas === replicas &&
    s.replicas === replicas
  );
}

const livePods = (c: string): Pod[] =>
  componentPods(ns, cluster, c).filter((p) => !p.metadata.deletionTimestamp);

/** ReplicaSets of a component that still run pods. */
function activeReplicaSets(c: string): string[] {
  return json<{ items: { metadata: { name: string }; spec: { replicas?: number } }[] }>([
    '-n',
    ns,
    'get',
    'replicasets',
    '-l',
    `app.kubernetes.io/instance=${cluster},app.kubernetes.io/component=${c}`,
  ])
    .items.filter((r) => (r.spec.replicas ?? 0) > 0)
    .map((r) => r.metadata.name);
}

function patchSpec(spec: Record<string, unknown>): void {
  kubectl([
    '-n',
    ns,
    'patch',
    'gossipcluster',
    cluster,
    '--type',
    'merge',
    '-p',
    JSON.stringify({ spec }),
  ]);
}

const fail =
  (what: string) =>
  (err: unknown): never => {
    throw new Error(`${what}: ${String(err)}\n${diagnose(ns)}`);
  };

/** Waits for `check`, failing with diagnostics; returns the seconds it took. */
async function until(check: () => boolean, what: string, timeoutMs = 240_000): Promise<number> {
  const t0 = Date.now();
  await eventually(check, what, timeoutMs, 1000).catch(fail(what));
  return (Date.now() - t0) / 1000;
}

const lean = smallRequests();
const appResources = (cpu: string) => ({
  requests: { cpu, memory: '64Mi' },
  limits: { memory: '512Mi' },
});

describe('spec changes on real pods', () => {
  test('a GossipCluster whose images come from spec.version becomes Ready', async () => {
    installOperator(ns);
    const t0 = Date.now();
    apply(
      clusterManifest(ns, cluster, {
        ...lean,
        version: V1,
        image: { registry: LOCAL, repository: 'gossip', pullPolicy: 'Never' },
      }),
    );
    const t = await waitClusterReady(ns, cluster, t0);
    figures.push(`kubectl apply to GossipCluster Ready True: ${t.clusterReady.toFixed(1)} s`);
    for (const c of APPS) {
      assert.equal(deploy(c).spec.template.spec.containers[0]?.image, tagged(c, V1));
    }
  });

  test('spec.engine.replicas 1 -> 2: the engine Deployment runs a second Ready pod', async () => {
    const before = livePods('engine').map((p) => p.metadata.name);
    assert.equal(before.length, 1, diagnose(ns));
    patchSpec({ engine: { replicas: 2, resources: appResources('10m') } });
    const s = await until(() => rolledOut('engine', 2), 'two Ready engine pods');
    figures.push(`engine replicas 1 -> 2, patch to 2 Ready pods: ${s.toFixed(1)} s`);
    const now = livePods('engine');
    assert.equal(now.length, 2, diagnose(ns));
    assert.ok(now.every(ready), diagnose(ns));
    // Scaling is not a rollout: the first pod stays.
    assert.ok(
      now.some((p) => p.metadata.name === before[0]),
      diagnose(ns),
    );
  });

  test('a resources change rolls the engine Deployment: a new ReplicaSet whose Ready pods carry the new requests', async () => {
    const [oldRs] = activeReplicaSets('engine');
    assert.ok(oldRs, diagnose(ns));
    patchSpec({ engine: { replicas: 2, resources: appResources('20m') } });
    const s = await until(
      () =>
        rolledOut('engine', 2) &&
        deploy('engine').spec.template.spec.containers[0]?.resources?.requests?.cpu === '20m',
      'the engine rollout with cpu request 20m',
    );
    figures.push(`engine resources change, patch to rolled out (2 pods): ${s.toFixed(1)} s`);
    const rs = activeReplicaSets('engine');
    assert.equal(rs.length, 1, `one ReplicaSet with pods left: ${rs.join(', ')}`);
    assert.notEqual(rs[0], oldRs, 'a new ReplicaSet');
    await until(() => livePods('engine').length === 2, 'the old engine pods gone');
    for (const p of livePods('engine')) {
      const pod = json<{ spec: { containers: { resources: { requests: { cpu: string } } }[] } }>([
        '-n',
        ns,
        'get',
        'pod',
        p.metadata.name,
      ]);
      assert.equal(pod.spec.containers[0]?.resources.requests.cpu, '20m', p.metadata.name);
      assert.ok(ready(p), diagnose(ns));
    }
  });

  test('a spec.version change rolls api, gateway and engine onto the new image tag', async () => {
    const t0 = Date.now();
    patchSpec({ version: V2 });
    const replicas = { api: 1, gateway: 1, engine: 2 };
    for (const c of APPS) {
      await until(
        () =>
          deploy(c).spec.template.spec.containers[0]?.image === tagged(c, V2) &&
          rolledOut(c, replicas[c]),
        `${c} rolled out on ${tagged(c, V2)}`,
      );
    }
    figures.push(
      `spec.version change, patch to api, gateway and engine rolled out: ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    await until(
      () => APPS.every((c) => livePods(c).length === replicas[c]),
      'the old pods of every component gone',
    );
    for (const c of APPS) {
      for (const p of livePods(c)) {
        assert.equal(p.spec?.containers[0]?.image, tagged(c, V2), p.metadata.name);
        assert.ok(ready(p), `${p.metadata.name} not Ready\n${diagnose(ns)}`);
      }
    }
    await until(
      () =>
        clusterStatus(ns, cluster)?.conditions?.some(
          (c) => c.type === 'Ready' && c.status === 'True',
        ) ?? false,
      'GossipCluster Ready True after the rollout',
    );
  });

  test('kubectl scale of the engine Deployment to 3 is put back to 2 by the operator', async () => {
    kubectl(['-n', ns, 'scale', 'deploy', `${cluster}-engine`, '--replicas=3']);
    // The scale may be undone before we look; what must hold is that it ends at 2 and stays.
    const s = await until(
      () => deploy('engine').spec.replicas === 2 && rolledOut('engine', 2),
      'the engine Deployment back at 2 replicas',
    );
    figures.push(`kubectl scale --replicas=3 put back to 2 (and settled): ${s.toFixed(1)} s`);
    // The operator owns spec.replicas again under its field manager.
    const managed = json<{
      metadata: { managedFields: { manager: string; fieldsV1?: { 'f:spec'?: object } }[] };
    }>(['-n', ns, 'get', 'deploy', `${cluster}-engine`, '--show-managed-fields']);
    const owners = managed.metadata.managedFields
      .filter((f) => f.fieldsV1?.['f:spec'] && 'f:replicas' in f.fieldsV1['f:spec'])
      .map((f) => f.manager);
    assert.deepEqual(owners, ['gossip-operator'], `spec.replicas managers: ${owners.join(', ')}`);
  });

  test('the pause annotation stops a spec change from being applied; lifting it applies the change', async () => {
    kubectl(['-n', ns, 'annotate', 'gossipcluster', cluster, `${PAUSE}=true`]);
    await until(
      () =>
        clusterStatus(ns, cluster)?.conditions?.some(
          (c) => c.type === 'ReconciliationPaused' && c.status === 'True',
        ) ?? false,
      'ReconciliationPaused True',
    );
    patchSpec({ engine: { replicas: 1, resources: appResources('20m') } });
    const generation = json<{ metadata: { generation: number } }>([
      '-n',
      ns,
      'get',
      'gossipcluster',
      cluster,
    ]).metadata.generation;
    // The operator has seen the new generation (the paused condition carries it) and
    // deliberately left the Deployment alone.
    await until(() => {
      const c = clusterStatus(ns, cluster)?.conditions?.find(
        (x: Condition & { observedGeneration?: number }) => x.type === 'ReconciliationPaused',
      ) as (Condition & { observedGeneration?: number }) | undefined;
      return c?.status === 'True' && c.observedGeneration === generation;
    }, 'the paused operator to have seen the new generation');
    // A few more autoscaler and resync chances to misbehave, then look again.
    await new Promise((r) => setTimeout(r, 10_000));
    assert.equal(deploy('engine').spec.replicas, 2, 'a paused cluster changed its engine replicas');
    assert.equal(livePods('engine').length, 2, diagnose(ns));

    const t0 = Date.now();
    kubectl(['-n', ns, 'annotate', 'gossipcluster', cluster, `${PAUSE}-`]);
    await until(() => rolledOut('engine', 1), 'the engine at 1 replica after the pause is lifted');
    figures.push(`pause lifted to engine at 1 replica: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await until(
      () =>
        clusterStatus(ns, cluster)?.conditions?.some(
          (c) => c.type === 'ReconciliationPaused' && c.status === 'False',
        ) ?? false,
      'ReconciliationPaused False',
    );
  });

  test('kubectl delete gossipcluster (dataRetentionPolicy Retain) removes what it owns; the PVCs and their credentials Secrets stay', async () => {
    const uid = json<{ metadata: { uid: string } }>(['-n', ns, 'get', 'gossipcluster', cluster])
      .metadata.uid;
    const owned = ownedBy(uid);
    const kinds = new Set(owned.map((o) => o.kind));
    for (const k of ['Deployment', 'StatefulSet', 'Service', 'ConfigMap', 'Secret']) {
      assert.ok(
        kinds.has(k),
        `nothing of kind ${k} owned by the cluster: ${[...kinds].join(', ')}`,
      );
    }
    const pvcs = claims();
    assert.equal(pvcs.length, 3, `three PVCs before the delete: ${pvcs.join(', ')}`);
    const unownedSecrets = instanceObjects('secrets').filter((o) => !o.owned);
    assert.ok(unownedSecrets.length > 0, 'the stores’ credentials Secrets carry no owner (Retain)');

    kubectl(['-n', ns, 'delete', 'gossipcluster', cluster, '--wait=true', '--timeout=120s'], {
      timeoutMs: 150_000,
    });
    const s = await until(
      () => ownedBy(uid).length === 0 && pods().length === 0,
      'every object the cluster owned, and its pods, to be garbage collected',
    );
    figures.push(`delete (Retain) to everything owned and every pod gone: ${s.toFixed(1)} s`);
    assert.deepEqual(claims(), pvcs, 'the PVCs survive under Retain');
    const secretsLeft = instanceObjects('secrets').map((o) => o.name);
    for (const sec of unownedSecrets) {
      assert.ok(secretsLeft.includes(sec.name), `${sec.name} was deleted`);
    }
  });

  test('kubectl delete gossipcluster with dataRetentionPolicy Delete removes its PVCs too', async () => {
    const name = 'drop';
    // Only the stores matter here: no need to wait for the whole cluster to be Ready.
    apply(clusterManifest(ns, name, { ...lean, dataRetentionPolicy: 'Delete' }));
    await until(
      () => claims(name).length === 3 && claimsBound(name),
      'three bound PVCs of the Delete cluster',
    );
    const uid = json<{ metadata: { uid: string } }>(['-n', ns, 'get', 'gossipcluster', name])
      .metadata.uid;
    kubectl(['-n', ns, 'delete', 'gossipcluster', name, '--wait=true', '--timeout=120s'], {
      timeoutMs: 150_000,
    });
    const s = await until(
      () => ownedBy(uid).length === 0 && claims(name).length === 0,
      'the Delete cluster’s objects and PVCs to be garbage collected',
    );
    figures.push(`delete (Delete) to everything owned and every PVC gone: ${s.toFixed(1)} s`);
    assert.deepEqual(
      instanceObjects('secrets', name).map((o) => o.name),
      [],
      'no Secret of the Delete cluster left',
    );
  });
});

interface Listed {
  kind: string;
  metadata: {
    name: string;
    ownerReferences?: { uid: string }[];
    labels?: Record<string, string>;
  };
  status?: { phase?: string };
}

const OWNED_KINDS =
  'deployments,statefulsets,services,configmaps,secrets,serviceaccounts,poddisruptionbudgets,networkpolicies';

/** Every object in the namespace with an owner reference to `uid`. */
function ownedBy(uid: string): { kind: string; name: string }[] {
  return json<{ items: Listed[] }>(['-n', ns, 'get', OWNED_KINDS])
    .items.filter((o) => o.metadata.ownerReferences?.some((r) => r.uid === uid))
    .map((o) => ({ kind: o.kind, name: o.metadata.name }));
}

function instanceObjects(kinds: string, name = cluster): { name: string; owned: boolean }[] {
  return json<{ items: Listed[] }>([
    '-n',
    ns,
    'get',
    kinds,
    '-l',
    `app.kubernetes.io/instance=${name}`,
  ]).items.map((o) => ({
    name: o.metadata.name,
    owned: (o.metadata.ownerReferences?.length ?? 0) > 0,
  }));
}

function pods(name = cluster): Pod[] {
  return json<{ items: Pod[] }>([
    '-n',
    ns,
    'get',
    'pods',
    '-l',
    `app.kubernetes.io/instance=${name}`,
  ]).items;
}

function claimList(name: string): Listed[] {
  return json<{ items: Listed[] }>(['-n', ns, 'get', 'pvc']).items.filter((p) =>
    p.metadata.name.includes(`-${name}-`),
  );
}

/** The names of the PVCs of a cluster's StatefulSets (`<volume>-<cluster>-<store>-<n>`). */
function claims(name = cluster): string[] {
  return claimList(name)
    .map((p) => p.metadata.name)
    .sort();
}

function claimsBound(name: string): boolean {
  return claimList(name).every((p) => p.status?.phase === 'Bound');
}
