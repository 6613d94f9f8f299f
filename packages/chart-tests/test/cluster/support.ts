/**
 * What the cluster test files share: the images `testenv images` built, the chart from the
 * same frozen copy of the tree, installing the operator with helm into a namespace of the
 * test's own, applying a GossipCluster with the stand-in stores and waiting for it, reading
 * pods, and SDK clients that chat through the cluster's Services from the host.
 *
 * Every file works in its own namespace (several files, and several people, share one node).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ApiClient,
  GossipClient,
  MemoryKeyStore,
  Messenger,
  type ChatMessage,
} from '@gossip/client';
import { nodeWebSocketFactory } from '@gossip/client/node';
import { eventually, testEnv } from '@gossip/testenv';
import { helm, kubectl } from '../../src/index.js';

export const env = testEnv();

/** What `testenv images` built, and the frozen copy of the tree it built from. */
export interface BuiltImages {
  context: string;
  images: { name: string; seconds: number; archiveBytes: number }[];
}

export function builtImages(): BuiltImages {
  return JSON.parse(readFileSync(join(env.dir, 'images.json'), 'utf8')) as BuiltImages;
}

/** The chart from the same copy as the operator image, so the CRD matches the operator. */
export const chartPath = (): string => join(builtImages().context, 'charts/gossip');

export const LOCAL = 'testenv.gossip.local';
export const image = (c: string): string => `${LOCAL}/gossip/${c}:dev`;
export const standIn = (s: string): string => `${LOCAL}/stand-in/${s}:1`;

/** The application components and the managed stores, as their pods are labelled. */
export const COMPONENTS = ['api', 'gateway', 'engine', 'rabbitmq', 'mongodb', 'redis'] as const;

/** Fails the test unless the environment has a node. */
export function requireNode(): void {
  assert.ok(env.node, 'the test environment has no node: run `npm run testenv -- up --node`');
}

/** `kubectl … -o json`, parsed. */
export function json<T>(args: string[]): T {
  return JSON.parse(kubectl([...args, '-o', 'json']).stdout) as T;
}

export interface Pod {
  metadata: {
    name: string;
    uid: string;
    labels?: Record<string, string>;
    deletionTimestamp?: string;
  };
  spec?: { nodeName?: string; containers: { name: string; image: string }[] };
  status: {
    phase: string;
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { name: string; ready: boolean; restartCount: number }[];
  };
}

export const ready = (p: Pod): boolean =>
  p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

export function pods(ns: string, selector?: string): Pod[] {
  const args = ['-n', ns, 'get', 'pods'];
  if (selector) args.push('-l', selector);
  return json<{ items: Pod[] }>(args).items;
}

/** Pods of one component of a GossipCluster. */
export function componentPods(ns: string, cluster: string, component: string): Pod[] {
  return pods(ns, `app.kubernetes.io/instance=${cluster},app.kubernetes.io/component=${component}`);
}

/** Why things are not right, for failure messages: objects, events and log tails. */
export function diagnose(ns: string): string {
  const out = [
    kubectl(['-n', ns, 'get', 'gossipclusters,pods,sts,deploy,pvc', '-o', 'wide'], {
      allowFailure: true,
    }).stdout,
  ];
  out.push(
    kubectl(['-n', ns, 'get', 'events', '--sort-by=.lastTimestamp'], { allowFailure: true })
      .stdout.split('\n')
      .slice(-40)
      .join('\n'),
  );
  let all: Pod[] = [];
  try {
    all = pods(ns);
  } catch {
    // the namespace may be gone
  }
  for (const p of all.filter((p) => !ready(p))) {
    out.push(`--- logs ${p.metadata.name}`);
    out.push(
      kubectl(['-n', ns, 'logs', p.metadata.name, '--all-containers', '--tail=30'], {
        allowFailure: true,
      }).stdout,
    );
  }
  return out.join('\n');
}

/**
 * `helm install` of the operator from the built chart into `ns` (created), waiting for the
 * operator pod to be Ready. Returns the seconds it took.
 */
export function installOperator(ns: string, release = 'gossip', extra: string[] = []): number {
  const t0 = Date.now();
  helm(
    [
      'install',
      release,
      chartPath(),
      '-n',
      ns,
      '--create-namespace',
      '--set',
      `image.registry=${LOCAL}`,
      '--set',
      'image.repository=gossip/operator',
      '--set',
      'image.tag=dev',
      '--set',
      'image.pullPolicy=Never',
      ...extra,
      '--wait',
      '--timeout',
      '180s',
    ],
    { timeoutMs: 200_000 },
  );
  return (Date.now() - t0) / 1000;
}

/** A GossipCluster on the built images with managed stand-in stores; `spec` is merged on top. */
export function clusterManifest(
  ns: string,
  name: string,
  spec: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    apiVersion: 'gossip.dev/v1alpha1',
    kind: 'GossipCluster',
    metadata: { name, namespace: ns },
    spec: {
      version: '0.1.0',
      image: {
        pullPolicy: 'Never',
        components: { api: image('api'), gateway: image('gateway'), engine: image('engine') },
      },
      gateway: { minReplicas: 1, maxReplicas: 2 },
      engine: { replicas: 1 },
      rabbitmq: { managed: { image: standIn('rabbitmq'), storage: { size: '1Gi' } } },
      mongodb: { managed: { image: standIn('mongodb'), storage: { size: '1Gi' } } },
      redis: { managed: { image: standIn('redis'), storage: { size: '1Gi' } } },
      ...spec,
    },
  };
}

/**
 * `spec` fields that give every pod of a GossipCluster a small CPU and memory request (the
 * defaults ask 100m CPU per pod): several test clusters share one 2-CPU node, and a pod that
 * cannot be scheduled would fail a test for a reason it is not about. Merge into
 * `clusterManifest`'s `spec`.
 */
export function smallRequests(): Record<string, unknown> {
  const app = { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '512Mi' } };
  const store = { requests: { cpu: '10m', memory: '128Mi' }, limits: { memory: '1Gi' } };
  const managed = (s: string) => ({
    managed: { image: standIn(s), storage: { size: '1Gi' }, resources: store },
  });
  return {
    gateway: { minReplicas: 1, maxReplicas: 2, resources: app },
    engine: { replicas: 1, resources: app },
    api: { replicas: 1, resources: app },
    rabbitmq: managed('rabbitmq'),
    mongodb: managed('mongodb'),
    redis: managed('redis'),
  };
}

/** `kubectl apply` of an object (or a list of them) given as JSON. */
export function apply(obj: unknown): void {
  kubectl(['apply', '-f', '-'], { input: JSON.stringify(obj) });
}

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export function clusterStatus(
  ns: string,
  name: string,
): { conditions?: Condition[]; [k: string]: unknown } | undefined {
  return json<{ status?: { conditions?: Condition[] } }>(['-n', ns, 'get', 'gossipcluster', name])
    .status;
}

/**
 * Waits until every component has a Ready pod and the GossipCluster reports Ready True;
 * returns the seconds until each, counted from `since`. Fails with `diagnose` output.
 */
export async function waitClusterReady(
  ns: string,
  name: string,
  since = Date.now(),
  timeoutMs = 300_000,
): Promise<{ podsReady: number; clusterReady: number }> {
  const fail = (err: unknown): never => {
    throw new Error(`${String(err)}\n${diagnose(ns)}`);
  };
  await eventually(
    () => {
      const comps = new Set(
        pods(ns, `app.kubernetes.io/instance=${name}`)
          .filter(ready)
          .map((p) => p.metadata.labels?.['app.kubernetes.io/component']),
      );
      return COMPONENTS.every((c) => comps.has(c));
    },
    'every component of the GossipCluster to have a Ready pod',
    timeoutMs,
    1000,
  ).catch(fail);
  const podsReady = (Date.now() - since) / 1000;
  await eventually(
    () =>
      clusterStatus(ns, name)?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    'GossipCluster Ready True',
    120_000,
    1000,
  ).catch(fail);
  return { podsReady, clusterReady: (Date.now() - since) / 1000 };
}

/**
 * `helm install` of the operator into `ns`, then `kubectl apply` of a GossipCluster (see
 * {@link clusterManifest}) and the wait for it; returns the seconds from the apply.
 */
export async function installCluster(
  ns: string,
  name: string,
  spec: Record<string, unknown> = {},
): Promise<{ podsReady: number; clusterReady: number }> {
  installOperator(ns);
  const t0 = Date.now();
  apply(clusterManifest(ns, name, spec));
  return waitClusterReady(ns, name, t0);
}

/** The ClusterIP of a Service (reachable from the host through kube-proxy). */
export function serviceIp(ns: string, name: string): string {
  return json<{ spec: { clusterIP: string } }>(['-n', ns, 'get', 'svc', name]).spec.clusterIP;
}

/** The api and gateway URLs of a GossipCluster, through their Services. */
export function clusterUrls(ns: string, name: string): { api: string; ws: string } {
  return {
    api: `http://${serviceIp(ns, `${name}-api`)}:8080`,
    ws: `ws://${serviceIp(ns, `${name}-gateway`)}:8081/ws`,
  };
}

/** A registered SDK user on the host, talking to a GossipCluster through its Services. */
export interface ClusterUser {
  username: string;
  gossip: GossipClient;
  /** Every message its messenger showed, in order. */
  shown: ChatMessage[];
  messenger(): Messenger;
}

/**
 * Registers users (waiting for the api to answer first) and makes every pair contacts.
 * Plain HTTP to ClusterIPs on this machine: the test cluster has no TLS in front.
 */
export async function clusterUsers(
  urls: { api: string; ws: string },
  names: string[],
): Promise<ClusterUser[]> {
  const suffix = Math.random().toString(36).slice(2, 8);
  const users: ClusterUser[] = names.map((n) => {
    const gossip = new GossipClient({
      api: new ApiClient({ baseUrl: urls.api, allowInsecure: true }),
      keyStore: new MemoryKeyStore(),
    });
    const shown: ChatMessage[] = [];
    return {
      username: `${n}_${suffix}`,
      gossip,
      shown,
      messenger: () =>
        new Messenger({
          gossip,
          url: [urls.ws],
          webSocket: nodeWebSocketFactory(),
          connection: { backoffInitialMs: 200, backoffMaxMs: 2000, allowInsecure: true },
          onMessage: (m) => {
            shown.push(m);
          },
        }),
    };
  });
  const [first, ...rest] = users;
  if (!first) return users;
  await eventually(
    () =>
      first.gossip
        .register({ username: first.username, password: `pw-${first.username}-long` })
        .then(() => true),
    'the first user to register through the api Service',
    60_000,
    500,
  );
  for (const u of rest)
    await u.gossip.register({ username: u.username, password: `pw-${u.username}-long` });
  for (let i = 0; i < users.length; i++) {
    for (let j = i + 1; j < users.length; j++) {
      await users[i]!.gossip.api.requestContact(users[j]!.username);
      await users[j]!.gossip.acceptContact(users[i]!.username);
    }
  }
  return users;
}

/**
 * Two users' messengers send each other one message (`texts`: a's, then b's) and wait until
 * each is shown on the other side; the messengers are stopped afterwards.
 */
export async function chatBothWays(
  a: ClusterUser,
  b: ClusterUser,
  texts: [string, string],
): Promise<void> {
  const ma = a.messenger();
  const mb = b.messenger();
  await ma.start();
  await mb.start();
  try {
    await ma.send(b.username, texts[0]);
    await mb.send(a.username, texts[1]);
    await eventually(
      () => b.shown.some((m) => m.text === texts[0]),
      `${b.username} to see ${a.username}’s message`,
      30_000,
    );
    await eventually(
      () => a.shown.some((m) => m.text === texts[1]),
      `${a.username} to see ${b.username}’s message`,
      30_000,
    );
  } finally {
    await ma.stop();
    await mb.stop();
  }
}

/** Prints the figures a file collected (tests never assert on time; they report it). */
export function reportFigures(file: string, figures: string[]): void {
  if (figures.length > 0) process.stderr.write(`${file} figures:\n  ${figures.join('\n  ')}\n`);
}

/** Deletes a test's namespace unless GOSSIP_CLUSTER_KEEP is set (to look at it afterwards). */
export function dropNamespace(ns: string): void {
  if (process.env.GOSSIP_CLUSTER_KEEP) return;
  kubectl(['delete', 'namespace', ns, '--wait=false'], { allowFailure: true });
}
