/**
 * The product on a real Kubernetes node (`npm run test:cluster`; not part of `npm test` yet):
 * the operator installed by `helm install` from charts/gossip runs as a pod built from
 * operator/Dockerfile; `kubectl apply` of a GossipCluster with managed RabbitMQ, MongoDB and
 * Redis (the stand-in images, packages/testenv/images) brings every pod to Ready and the
 * GossipCluster to Ready True; SDK clients on the host register through the api Service and
 * chat both ways through the gateway Service (ClusterIPs, reached through kube-proxy), and no
 * plaintext lands in any store's volume.
 *
 * Needs `npm run testenv -- up --node` and `npm run testenv -- images` (the runner,
 * scripts/test-cluster.mjs, does both).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ApiClient,
  GossipClient,
  MemoryKeyStore,
  Messenger,
  type ChatMessage,
} from '@gossip/client';
import { nodeWebSocketFactory } from '@gossip/client/node';
import { eventually, testEnv, uniqueName } from '@gossip/testenv';
import { helm, kubectl } from '../../src/index.js';

const env = testEnv();
/** What `testenv images` built, and the frozen copy of the tree it built from. */
const built = JSON.parse(readFileSync(join(env.dir, 'images.json'), 'utf8')) as {
  context: string;
  images: { name: string; seconds: number; archiveBytes: number }[];
};
// The chart from the same copy as the operator image, so the CRD matches the operator.
const chart = join(built.context, 'charts/gossip');
const ns = uniqueName('gossip');
const cluster = 'chat';
const LOCAL = 'testenv.gossip.local';
const image = (c: string): string => `${LOCAL}/gossip/${c}:dev`;
const standIn = (s: string): string => `${LOCAL}/stand-in/${s}:1`;
const figures: string[] = [];

function json<T>(args: string[]): T {
  return JSON.parse(kubectl([...args, '-o', 'json']).stdout) as T;
}

interface Pod {
  metadata: { name: string; labels?: Record<string, string> };
  status: {
    phase: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { name: string; ready: boolean; restartCount: number }[];
  };
}

const ready = (p: Pod): boolean =>
  p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

function pods(): Pod[] {
  return json<{ items: Pod[] }>(['-n', ns, 'get', 'pods']).items;
}

/** Why pods are not Ready, for failure messages: status, events and log tails. */
function diagnose(): string {
  const out = [
    kubectl(['-n', ns, 'get', 'pods,sts,deploy,pvc', '-o', 'wide'], { allowFailure: true }).stdout,
  ];
  out.push(
    kubectl(['-n', ns, 'get', 'events', '--sort-by=.lastTimestamp'], { allowFailure: true })
      .stdout.split('\n')
      .slice(-40)
      .join('\n'),
  );
  for (const p of pods().filter((p) => !ready(p))) {
    out.push(`--- logs ${p.metadata.name}`);
    out.push(
      kubectl(['-n', ns, 'logs', p.metadata.name, '--all-containers', '--tail=30'], {
        allowFailure: true,
      }).stdout,
    );
  }
  return out.join('\n');
}

before(() => {
  assert.ok(env.node, 'the test environment has no node: run `npm run testenv -- up --node`');
  for (const i of built.images) {
    figures.push(
      `image ${i.name}: built in ${i.seconds.toFixed(0)} s, ${(i.archiveBytes / 1e6).toFixed(0)} MB`,
    );
  }
});

after(() => {
  if (figures.length > 0) process.stderr.write(`cluster figures:\n  ${figures.join('\n  ')}\n`);
  if (process.env.GOSSIP_CLUSTER_KEEP) return;
  kubectl(['delete', 'namespace', ns, '--wait=false'], { allowFailure: true });
});

describe('the product on a real node', () => {
  test('the apiserver and the node report Kubernetes v1.37.2 (what Helm kubeVersion checks see)', () => {
    const version = JSON.parse(kubectl(['get', '--raw', '/version']).stdout) as {
      gitVersion: string;
    };
    assert.equal(version.gitVersion, 'v1.37.2');
    const node = json<{ status: { nodeInfo: { kubeletVersion: string } } }>([
      'get',
      'node',
      env.node!.name,
    ]);
    assert.equal(node.status.nodeInfo.kubeletVersion, 'v1.37.2');
  });

  test('helm install: the operator pod built from operator/Dockerfile becomes Ready with the chart’s probes and security context', () => {
    const t0 = Date.now();
    helm(
      [
        'install',
        'gossip',
        chart,
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
        '--wait',
        '--timeout',
        '180s',
      ],
      { timeoutMs: 200_000 },
    );
    figures.push(
      `helm install --wait to operator Ready: ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    const op = pods().filter((p) => p.metadata.name.startsWith('gossip-'));
    assert.equal(op.length, 1, diagnose());
    assert.ok(ready(op[0]!), diagnose());
    assert.equal(op[0]!.status.containerStatuses?.[0]?.restartCount, 0, diagnose());
  });

  test('kubectl apply of a GossipCluster with managed stores: every pod Ready, GossipCluster Ready True', async () => {
    const gc = {
      apiVersion: 'gossip.dev/v1alpha1',
      kind: 'GossipCluster',
      metadata: { name: cluster, namespace: ns },
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
      },
    };
    const t0 = Date.now();
    kubectl(['apply', '-f', '-'], { input: JSON.stringify(gc) });
    await eventually(
      () => {
        const all = pods();
        const app = all.filter(
          (p) => p.metadata.labels?.['app.kubernetes.io/instance'] === cluster,
        );
        const comps = new Set(
          app.filter(ready).map((p) => p.metadata.labels?.['app.kubernetes.io/component']),
        );
        return ['api', 'gateway', 'engine', 'rabbitmq', 'mongodb', 'redis'].every((c) =>
          comps.has(c),
        );
      },
      'every component of the GossipCluster to have a Ready pod',
      300_000,
      1000,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${diagnose()}`);
    });
    figures.push(`kubectl apply to every pod Ready: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const status = await eventually(
      () => {
        const s = json<{
          status?: { conditions?: { type: string; status: string; reason?: string }[] };
        }>(['-n', ns, 'get', 'gossipcluster', cluster]).status;
        return s?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True')
          ? s
          : undefined;
      },
      'GossipCluster Ready True',
      120_000,
      1000,
    );
    figures.push(
      `kubectl apply to GossipCluster Ready True: ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    assert.ok(status);
    process.stderr.write(kubectl(['-n', ns, 'get', 'gossipclusters']).stdout);
    process.stderr.write(kubectl(['-n', ns, 'get', 'pods']).stdout);
  });

  test('SDK clients on the host register through the api Service and chat both ways through the gateway Service; no plaintext in any store', async () => {
    const svc = (name: string): string =>
      json<{ spec: { clusterIP: string } }>(['-n', ns, 'get', 'svc', name]).spec.clusterIP;
    const apiUrl = `http://${svc(`${cluster}-api`)}:8080`;
    const wsUrl = `ws://${svc(`${cluster}-gateway`)}:8081/ws`;
    // Plain HTTP to a ClusterIP on this machine: the test cluster has no TLS in front.
    const client = (): GossipClient =>
      new GossipClient({
        api: new ApiClient({ baseUrl: apiUrl, allowInsecure: true }),
        keyStore: new MemoryKeyStore(),
      });
    const suffix = Math.random().toString(36).slice(2, 8);
    const a = client();
    const b = client();
    await eventually(
      () =>
        a
          .register({ username: `alice_${suffix}`, password: `pw-alice-${suffix}-long` })
          .then(() => true),
      'alice to register through the api Service',
      30_000,
      500,
    );
    await b.register({ username: `bob_${suffix}`, password: `pw-bob-${suffix}-long` });
    await a.api.requestContact(`bob_${suffix}`);
    await b.acceptContact(`alice_${suffix}`);
    const shown: Record<'a' | 'b', ChatMessage[]> = { a: [], b: [] };
    const messenger = (g: GossipClient, k: 'a' | 'b'): Messenger =>
      new Messenger({
        gossip: g,
        url: [wsUrl],
        webSocket: nodeWebSocketFactory(),
        connection: { backoffInitialMs: 200, backoffMaxMs: 2000, allowInsecure: true },
        onMessage: (m) => {
          shown[k].push(m);
        },
      });
    const ma = messenger(a, 'a');
    const mb = messenger(b, 'b');
    await ma.start();
    await mb.start();
    const secretA = `cluster plaintext from alice ${suffix}`;
    const secretB = `cluster plaintext from bob ${suffix}`;
    try {
      await ma.send(`bob_${suffix}`, secretA);
      await mb.send(`alice_${suffix}`, secretB);
      await eventually(
        () => shown.b.some((m) => m.text === secretA),
        'bob to see alice’s message',
        30_000,
      );
      await eventually(
        () => shown.a.some((m) => m.text === secretB),
        'alice to see bob’s message',
        30_000,
      );
    } finally {
      await ma.stop();
      await mb.stop();
    }
    // Every store keeps its data on a local-path volume under the node's folder: read the raw files.
    const volumes = join(env.dir, 'data', 'node', 'local-path');
    const files: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile() && statSync(p).size < 256 * 1024 * 1024) files.push(p);
      }
    };
    walk(volumes);
    assert.ok(files.length > 0, `no store files under ${volumes}`);
    for (const f of files) {
      const bytes = readFileSync(f);
      for (const secret of [secretA, secretB]) {
        assert.equal(bytes.includes(secret), false, `plaintext found in ${f}`);
      }
    }
  });
});
