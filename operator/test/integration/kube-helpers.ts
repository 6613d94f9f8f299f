/**
 * Shared helpers of the operator's integration tests: clients for the test control
 * plane, the CRD, a namespace per test, the operator as a real process, and a stand-in
 * for the kubelet (marking pods Ready through the status subresource).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before } from 'node:test';
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { parse } from 'yaml';
import {
  group,
  httpPortName,
  namesFor,
  opsPortName,
  plural,
  selectorFor,
  version,
} from '@gossip/cdk8s';
import {
  eventually,
  freePort,
  startProcess,
  testEnv,
  uniqueName,
  type ManagedProcess,
} from '@gossip/testenv';
import { ApplyApi } from '../../src/kube/apply-api.js';
import { fileURLToPath } from 'node:url';

/** The repository root (the operator runs from there, like in CI). */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export const env = testEnv();
export const kc = new KubeConfig();
kc.loadFromFile(env.kubeconfig);
export const core = kc.makeApiClient(CoreV1Api);
export const apps = kc.makeApiClient(AppsV1Api);
export const custom = kc.makeApiClient(CustomObjectsApi);
export const objects = KubernetesObjectApi.makeApiClient(kc);
export const applier = ApplyApi.forConfig(kc);

export const gc = { group, version, plural };

/** Server-side applies the generated CRD (idempotent) and waits until it is served. */
export async function applyCrd(): Promise<void> {
  const crd = parse(
    readFileSync(join(repoRoot, 'cdk8s/generated/gossip.dev_gossipclusters.yaml'), 'utf8'),
  ) as KubernetesObject;
  // Not KubernetesObjectApi.patch: its model serializer drops x-kubernetes-validations.
  await applier.apply(crd, 'gossip-tests');
  await waitFor('the CRD to be established', async () => {
    const got = (await objects.read(crd as never)) as {
      status?: { conditions?: { type: string; status: string }[] };
    };
    return got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
  });
}

export async function createNamespace(name: string): Promise<void> {
  await core.createNamespace({ body: { metadata: { name } } });
}

export async function deleteNamespace(name: string): Promise<void> {
  await core.deleteNamespace({ name }).catch(() => undefined);
}

/** Polls `check` four times a second until it returns a truthy value; fails with `what` after `timeoutMs`. */
export function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false | null>,
  timeoutMs = 30_000,
): Promise<T> {
  return eventually(check, what, timeoutMs, 250);
}

/**
 * A namespace of its own for one test file, with the file's set-up around it: before its
 * tests the CRD is applied, the namespace created, then `setUp` runs (starting the operator,
 * for example); after them `tearDown` runs first (so an operator stops before its namespace
 * goes), then the namespace is deleted.
 */
export function testNamespace(
  prefix: string,
  hooks: { setUp?: (namespace: string) => Promise<void>; tearDown?: () => Promise<void> } = {},
): string {
  const namespace = uniqueName(prefix);
  before(async () => {
    await applyCrd();
    await createNamespace(namespace);
    await hooks.setUp?.(namespace);
  });
  after(async () => {
    await hooks.tearDown?.();
    await deleteNamespace(namespace);
  });
  return namespace;
}

/**
 * {@link testNamespace} with one operator watching it: started after the file's `setUp`
 * (through `kubeconfig()` when given: one that reaches the API through a proxy), stopped
 * before the file's `tearDown`. `operator()` returns it once started.
 */
export function testOperator(
  prefix: string,
  o: {
    identity: string;
    env?: Record<string, string>;
    kubeconfig?: () => string;
    setUp?: (namespace: string) => Promise<void>;
    tearDown?: () => Promise<void>;
  },
): { ns: string; operator: () => RunningOperator } {
  let op: RunningOperator | undefined;
  const ns = testNamespace(prefix, {
    setUp: async (namespace) => {
      await o.setUp?.(namespace);
      op = await startOperator({
        namespace,
        identity: o.identity,
        env: o.env,
        kubeconfig: o.kubeconfig?.(),
      });
    },
    tearDown: async () => {
      await stopOperator(op);
      await o.tearDown?.();
    },
  });
  const operator = (): RunningOperator => {
    if (!op) throw new Error(`the operator of ${ns} has not started`);
    return op;
  };
  return { ns, operator };
}

/** Stops an operator started by {@link startOperator}; prints the end of its output unless it exited 0. */
export async function stopOperator(op: RunningOperator | undefined): Promise<void> {
  const code = await op?.proc.stop();
  if (code !== 0) console.log(op?.proc.output().slice(-5000));
}

export interface RunningOperator {
  proc: ManagedProcess;
  port: number;
  metrics(): Promise<string>;
}

/** Starts `operator/src/main.ts` as a real process watching `namespace`. */
export async function startOperator(opts: {
  namespace: string;
  identity: string;
  kubeconfig?: string;
  env?: Record<string, string>;
}): Promise<RunningOperator> {
  const port = await freePort();
  const proc = await startProcess({
    command: process.execPath,
    args: ['--import', 'tsx', 'operator/src/main.ts'],
    cwd: repoRoot,
    cleanEnv: true,
    env: {
      OPERATOR_KUBECONFIG: opts.kubeconfig ?? env.kubeconfig,
      OPERATOR_METRICS_PORT: String(port),
      OPERATOR_METRICS_HOST: '127.0.0.1',
      OPERATOR_WATCH_NAMESPACE: opts.namespace,
      OPERATOR_LEASE_NAMESPACE: opts.namespace,
      OPERATOR_IDENTITY: opts.identity,
      OPERATOR_LOG_LEVEL: 'debug',
      ...opts.env,
    },
    readyUrl: `http://127.0.0.1:${port}/healthz`,
    readyTimeoutMs: 60_000,
  });
  return {
    proc,
    port,
    metrics: async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
  };
}

/** The value of one sample in Prometheus text, or undefined. */
export function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

export type Cluster = KubernetesObject & {
  spec?: Record<string, unknown>;
  status?: {
    observedGeneration?: number;
    conditions?: {
      type: string;
      status: string;
      reason: string;
      message: string;
      observedGeneration?: number;
    }[];
    components?: Record<string, { replicas?: number; readyReplicas?: number }>;
    endpoints?: Record<string, string>;
  };
};

export async function getCluster(namespace: string, name: string): Promise<Cluster> {
  return (await custom.getNamespacedCustomObject({ ...gc, namespace, name })) as Cluster;
}

export function condition(c: Cluster, type: string) {
  return c.status?.conditions?.find((x) => x.type === type);
}

export async function applyCluster(namespace: string, name: string, spec: object): Promise<void> {
  await applier.apply(
    {
      apiVersion: 'gossip.dev/v1alpha1',
      kind: 'GossipCluster',
      metadata: { name, namespace },
      spec,
    } as KubernetesObject,
    'gossip-tests',
  );
}

/**
 * Plays the kubelet: marks every pod of the namespace Running and Ready, so the
 * ReplicaSet and StatefulSet controllers count them and the workloads report ready.
 */
export async function markPodsReady(namespace: string): Promise<number> {
  const pods = await core.listNamespacedPod({ namespace });
  let marked = 0;
  for (const pod of pods.items) {
    const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    if (ready || pod.metadata?.deletionTimestamp) continue;
    const now = new Date();
    await core.patchNamespacedPodStatus(
      {
        name: pod.metadata!.name!,
        namespace,
        body: {
          status: {
            phase: 'Running',
            conditions: [
              { type: 'Ready', status: 'True', lastTransitionTime: now },
              { type: 'ContainersReady', status: 'True', lastTransitionTime: now },
            ],
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    marked++;
  }
  return marked;
}

/** `kubectl` against the test control plane; resolves stdout, rejects with stderr. */
export async function kubectl(...args: string[]): Promise<string> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    execFile(env.bin.kubectl, ['--kubeconfig', env.kubeconfig, ...args], (err, stdout, stderr) => {
      if (err) reject(new Error(stderr || err.message));
      else resolve(stdout);
    });
  });
}

/**
 * Registers a gateway process running outside Kubernetes as a Pod of `cluster`'s
 * gateway, the way a kubelet-run pod appears to the autoscaler: the Deployment's
 * selector labels, container ports named `http` and `ops` (the process's public and
 * ops ports, as the cdk8s construct names them), and a Running status with pod IP
 * 127.0.0.1 set through the status subresource.
 */
export async function registerGatewayPod(
  namespace: string,
  cluster: string,
  podName: string,
  gateway: { port: number; opsPort: number },
): Promise<void> {
  await core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name: podName, labels: selectorFor(cluster, 'gateway') },
      spec: {
        containers: [
          {
            name: 'gateway',
            image: 'gossip/gateway:test',
            ports: [
              { name: httpPortName, containerPort: gateway.port },
              { name: opsPortName, containerPort: gateway.opsPort },
            ],
          },
        ],
      },
    },
  });
  await core.patchNamespacedPodStatus(
    {
      name: podName,
      namespace,
      body: {
        status: {
          phase: 'Running',
          podIP: '127.0.0.1',
          podIPs: [{ ip: '127.0.0.1' }],
          conditions: [{ type: 'Ready', status: 'True' }],
        },
      },
    },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

/** `spec.replicas` of `cluster`'s gateway Deployment. */
export async function gatewayReplicas(
  namespace: string,
  cluster: string,
): Promise<number | undefined> {
  const d = await apps.readNamespacedDeployment({
    name: namesFor(cluster).app('gateway'),
    namespace,
  });
  return d.spec?.replicas;
}

export { freePort };
