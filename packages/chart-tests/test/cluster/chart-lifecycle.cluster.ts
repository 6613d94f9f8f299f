/**
 * The chart's life on a real node (issue 14 §3 test 1): `helm install` of charts/gossip runs
 * the operator pod with the chart's probes, security context and namespaced RBAC, and that
 * is enough for it to bring a GossipCluster to Ready; `helm upgrade` with the same values
 * leaves the cluster's workloads alone, and with a value that changes the operator's
 * Deployment rolls only the operator; `helm uninstall` removes every object of the release,
 * keeps the CRD (Helm never deletes crds/) and leaves the GossipCluster and what it owns
 * running, unmanaged, until the GossipCluster itself is deleted.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { eventually, uniqueName } from '@gossip/testenv';
import { helm, kubectl } from '../../src/index.js';
import {
  apply,
  chartPath,
  clusterManifest,
  diagnose,
  dropNamespace,
  installOperator,
  json,
  pods,
  ready,
  reportFigures,
  requireNode,
  smallRequests,
  waitClusterReady,
  type Pod,
} from './support.js';

const ns = uniqueName('lifecycle');
const release = 'gossip';
const cluster = 'chat';
/** gossip.fullname for a release whose name already says gossip. */
const operatorName = `${release}-operator`;
const figures: string[] = [];
/** The chart's labels on every object of the release (gossip.labels). */
const releaseSelector = `app.kubernetes.io/instance=${release},app.kubernetes.io/managed-by=Helm`;

type LivePod = Omit<Pod, 'spec'> & {
  spec: {
    nodeName?: string;
    serviceAccountName?: string;
    securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
    containers: {
      name: string;
      image: string;
      securityContext?: {
        runAsNonRoot?: boolean;
        readOnlyRootFilesystem?: boolean;
        allowPrivilegeEscalation?: boolean;
        privileged?: boolean;
        capabilities?: { drop?: string[]; add?: string[] };
      };
      livenessProbe?: { httpGet?: { path: string } };
      readinessProbe?: { httpGet?: { path: string } };
    }[];
  };
};

const operatorPods = (): LivePod[] =>
  pods(ns, `app.kubernetes.io/instance=${release},app.kubernetes.io/name=gossip`).filter(
    (p) => !p.metadata.deletionTimestamp,
  ) as unknown as LivePod[];

/** Generations of the GossipCluster's Deployments and StatefulSets, and its pods' uids. */
function workloads(): { generations: Record<string, number>; podUids: string[] } {
  const sel = `app.kubernetes.io/instance=${cluster}`;
  const list = json<{ items: { kind: string; metadata: { name: string; generation: number } }[] }>([
    '-n',
    ns,
    'get',
    'deployments,statefulsets',
    '-l',
    sel,
  ]).items;
  const generations = Object.fromEntries(
    list.map((o) => [`${o.kind}/${o.metadata.name}`, o.metadata.generation]),
  );
  const podUids = pods(ns, sel)
    .map((p) => `${p.metadata.name} ${p.metadata.uid}`)
    .sort();
  return { generations, podUids };
}

/** gossip_operator_reconcile_total{controller="gossipcluster",result="success"} of one pod. */
async function successfulReconciles(pod: Pod): Promise<number> {
  const res = await fetch(`http://${pod.status.podIP}:8080/metrics`, {
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  const line = text
    .split('\n')
    .find((l) =>
      l.startsWith('gossip_operator_reconcile_total{controller="gossipcluster",result="success"}'),
    );
  return line ? Number(line.split(' ').pop()) : 0;
}

/** Waits until a Ready operator pod other than `old` has reconciled the GossipCluster. */
async function operatorReconciledAgain(oldUid: string): Promise<LivePod> {
  return eventually(
    async () => {
      const live = operatorPods();
      const fresh = live.find((p) => p.metadata.uid !== oldUid && ready(p));
      if (!fresh || live.length !== 1) return undefined;
      return (await successfulReconciles(fresh)) > 0 ? fresh : undefined;
    },
    'the rolled operator pod to be the only one and to have reconciled the GossipCluster',
    180_000,
    1000,
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}\n${diagnose(ns)}`);
  });
}

const upgrade = (extra: string[]): void => {
  helm(
    [
      'upgrade',
      release,
      chartPath(),
      '-n',
      ns,
      '--reuse-values',
      ...extra,
      '--wait',
      '--timeout',
      '180s',
    ],
    { timeoutMs: 200_000 },
  );
};

before(() => {
  requireNode();
});

after(() => {
  reportFigures('chart-lifecycle.cluster.ts', figures);
  dropNamespace(ns);
});

describe('the chart’s lifecycle on a real node', () => {
  test('helm install: the operator pod is Ready with the chart’s probes and security context, as a non-root user on a read-only root', () => {
    const seconds = installOperator(ns, release);
    figures.push(`helm install --wait to operator Ready: ${seconds.toFixed(1)} s`);
    const [op, ...more] = operatorPods();
    assert.ok(op && more.length === 0, diagnose(ns));
    assert.ok(ready(op), diagnose(ns));
    const c = op.spec.containers.find((x) => x.name === 'operator');
    assert.ok(c, 'no operator container');
    assert.equal(c.livenessProbe?.httpGet?.path, '/healthz');
    assert.equal(c.readinessProbe?.httpGet?.path, '/readyz');
    assert.equal(op.spec.securityContext?.runAsNonRoot, true);
    assert.equal(c.securityContext?.runAsNonRoot, true);
    assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
    assert.equal(c.securityContext?.privileged, false);
    assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL']);
    assert.equal(c.securityContext?.capabilities?.add, undefined);
    // What the kernel enforces in the running container, not only what the spec says.
    const uid = kubectl(['-n', ns, 'exec', op.metadata.name, '--', 'id', '-u']).stdout.trim();
    assert.notEqual(uid, '0');
    assert.equal(uid, String(op.spec.securityContext?.runAsUser));
    const write = kubectl(
      [
        '-n',
        ns,
        'exec',
        op.metadata.name,
        '--',
        'node',
        '-e',
        "try { require('fs').writeFileSync('/probe', 'x'); console.log('written') } catch (e) { console.log(e.code) }",
      ],
      { allowFailure: true },
    );
    assert.equal(write.stdout.trim(), 'EROFS', write.stderr);
  });

  test('RBAC: namespaced only (no cluster-wide Secrets), and enough for the operator to bring a GossipCluster to Ready', async () => {
    const sa = operatorPods()[0]?.spec.serviceAccountName;
    assert.ok(sa, diagnose(ns));
    const as = `system:serviceaccount:${ns}:${sa}`;
    const canI = (...args: string[]): string =>
      kubectl(['auth', 'can-i', ...args, '--as', as], { allowFailure: true }).stdout.trim();
    assert.equal(canI('list', 'secrets', '--all-namespaces'), 'no');
    assert.equal(canI('list', 'secrets', '-n', 'default'), 'no');
    // Not even in its own namespace: it reads the Secrets it needs by name.
    assert.equal(canI('list', 'secrets', '-n', ns), 'no');
    assert.equal(canI('create', 'clusterroles'), 'no');
    assert.equal(canI('list', 'nodes'), 'no');
    assert.equal(canI('create', 'deployments', '-n', ns), 'yes');
    assert.equal(canI('list', 'gossipclusters.gossip.dev', '-n', ns), 'yes');
    const t0 = Date.now();
    apply(clusterManifest(ns, cluster, smallRequests()));
    const t = await waitClusterReady(ns, cluster, t0);
    figures.push(`kubectl apply to GossipCluster Ready True: ${t.clusterReady.toFixed(1)} s`);
  });

  test('helm upgrade with the same values leaves the operator and the workloads alone', async () => {
    const before = workloads();
    const op = operatorPods()[0]!;
    upgrade([]);
    // Time for a changed object to show: a watch event reaches the operator within seconds.
    await sleep(15_000);
    assert.deepEqual(
      operatorPods().map((p) => p.metadata.uid),
      [op.metadata.uid],
      'the operator pod was replaced by an upgrade that changed nothing',
    );
    assert.deepEqual(workloads(), before, diagnose(ns));
  });

  test('helm upgrade with a changed operator value rolls only the operator; the workloads stay as they were', async () => {
    const before = workloads();
    const op = operatorPods()[0]!;
    const t0 = Date.now();
    upgrade(['--set', 'logLevel=debug']);
    const fresh = await operatorReconciledAgain(op.metadata.uid);
    figures.push(
      `helm upgrade (logLevel) to the new operator's first reconcile: ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    const env = json<{
      spec: { template: { spec: { containers: { env?: { name: string; value?: string }[] }[] } } };
    }>(['-n', ns, 'get', 'deployment', operatorName]).spec.template.spec.containers[0]?.env;
    assert.equal(env?.find((e) => e.name === 'OPERATOR_LOG_LEVEL')?.value, 'debug');
    assert.notEqual(fresh.metadata.uid, op.metadata.uid);
    await sleep(5_000);
    assert.deepEqual(workloads(), before, diagnose(ns));
  });

  test('helm uninstall leaves nothing of the release; the CRD stays, and so do the GossipCluster and its running workloads', async () => {
    const before = workloads();
    const t0 = Date.now();
    helm(['uninstall', release, '-n', ns, '--wait', '--timeout', '120s'], { timeoutMs: 140_000 });
    figures.push(`helm uninstall --wait: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const kinds =
      'deployments,replicasets,pods,serviceaccounts,roles,rolebindings,configmaps,secrets,services,leases';
    // `helm uninstall --wait` returns once the Deployment is gone; its pod terminates after.
    const leftovers = (): string[] => {
      const labelled = kubectl(['-n', ns, 'get', kinds, '-l', releaseSelector, '-o', 'name'])
        .stdout.split('\n')
        .filter(Boolean);
      // By name too: objects made at run time (the operator's Lease) carry no chart labels.
      const named = kubectl(['-n', ns, 'get', kinds, '-o', 'name'])
        .stdout.split('\n')
        .filter((n) => n.split('/')[1]?.startsWith(`${release}-`) || n.endsWith(`/${release}`));
      return [...new Set([...labelled, ...named])].sort();
    };
    let left: string[] = [];
    await eventually(
      () => (left = leftovers()).length === 0,
      'every object of the release to be gone',
      90_000,
      1000,
    ).catch(() => assert.deepEqual(left, [], `left behind by helm uninstall:\n${left.join('\n')}`));
    figures.push(
      `helm uninstall to nothing of the release left: ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    const clusterWide = kubectl([
      'get',
      'clusterroles,clusterrolebindings',
      '-l',
      releaseSelector,
      '-o',
      'name',
    ]).stdout;
    assert.equal(clusterWide.trim(), '');
    const helmSecrets = kubectl([
      '-n',
      ns,
      'get',
      'secrets',
      '-l',
      `owner=helm,name=${release}`,
      '-o',
      'name',
    ]).stdout;
    assert.equal(helmSecrets.trim(), '', 'the release record is gone');
    // Helm installs crds/ but never upgrades or deletes them: the CRD, and so every
    // GossipCluster, outlives the release.
    kubectl(['get', 'crd', 'gossipclusters.gossip.dev']);
    kubectl(['-n', ns, 'get', 'gossipcluster', cluster]);
    assert.deepEqual(workloads(), before, 'the GossipCluster’s workloads kept running, untouched');
    assert.ok(
      pods(ns, `app.kubernetes.io/instance=${cluster}`).every(ready),
      'its pods are still Ready without the operator',
    );
  });
});
