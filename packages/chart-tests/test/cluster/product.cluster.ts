/**
 * The product on a real Kubernetes node (`npm run test:cluster`, run by `npm test` as root):
 * the operator installed by `helm install` from charts/gossip runs as a pod built from
 * the one Dockerfile (WORKSPACE=operator); `kubectl apply` of a GossipCluster with managed RabbitMQ, MongoDB and
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
import { uniqueName } from '@gossip/testenv';
import { kubectl } from '../../src/index.js';
import {
  apply,
  builtImages,
  chatBothWays,
  clusterManifest,
  clusterUrls,
  clusterUsers,
  diagnose,
  dropNamespace,
  env,
  installOperator,
  json,
  pods,
  ready,
  reportFigures,
  requireNode,
  serviceIp,
  waitClusterReady,
} from './support.js';
import { opsPorts, ports } from '../../../../cdk8s/src/constructs/naming.js';

const built = builtImages();
const ns = uniqueName('gossip');
const cluster = 'chat';
const figures: string[] = [];

before(() => {
  requireNode();
  for (const i of built.images) {
    figures.push(
      `image ${i.name}: built in ${i.seconds.toFixed(0)} s, ${(i.archiveBytes / 1e6).toFixed(0)} MB`,
    );
  }
});

after(() => {
  reportFigures('product.cluster.ts', figures);
  dropNamespace(ns);
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

  test('helm install: the operator pod built from the Dockerfile becomes Ready with the chart’s probes and security context', () => {
    const seconds = installOperator(ns);
    figures.push(`helm install --wait to operator Ready: ${seconds.toFixed(1)} s`);
    const op = pods(ns).filter((p) => p.metadata.name.startsWith('gossip-'));
    assert.equal(op.length, 1, diagnose(ns));
    assert.ok(ready(op[0]!), diagnose(ns));
    assert.equal(op[0]!.status.containerStatuses?.[0]?.restartCount, 0, diagnose(ns));
  });

  test('kubectl apply of a GossipCluster with managed stores: every pod Ready, GossipCluster Ready True', async () => {
    const t0 = Date.now();
    apply(clusterManifest(ns, cluster));
    const t = await waitClusterReady(ns, cluster, t0);
    figures.push(`kubectl apply to every pod Ready: ${t.podsReady.toFixed(1)} s`);
    figures.push(`kubectl apply to GossipCluster Ready True: ${t.clusterReady.toFixed(1)} s`);
    const status = json<{
      status?: { conditions?: { type: string; status: string }[] };
    }>(['-n', ns, 'get', 'gossipcluster', cluster]).status;
    assert.ok(status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    process.stderr.write(kubectl(['-n', ns, 'get', 'gossipclusters']).stdout);
    process.stderr.write(kubectl(['-n', ns, 'get', 'pods']).stdout);
  });

  test('SDK clients on the host register through the api Service and chat both ways through the gateway Service; no plaintext in any store', async () => {
    const [a, b] = await clusterUsers(clusterUrls(ns, cluster), ['alice', 'bob']);
    const suffix = Math.random().toString(36).slice(2, 8);
    const secretA = `cluster plaintext from alice ${suffix}`;
    const secretB = `cluster plaintext from bob ${suffix}`;
    await chatBothWays(a!, b!, [secretA, secretB]);
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

  test('the gateway image serves /metrics on its ops port only: through the Service, 404 on http, the metrics on ops', async () => {
    const ip = serviceIp(ns, `${cluster}-gateway`);
    const get = (port: number) =>
      fetch(`http://${ip}:${port}/metrics`, { signal: AbortSignal.timeout(10_000) });
    const pub = await get(ports.gateway);
    assert.equal(pub.status, 404, `public port ${ports.gateway}`);
    const ops = await get(opsPorts.gateway);
    assert.equal(ops.status, 200, `ops port ${opsPorts.gateway}`);
    assert.match(await ops.text(), /^gossip_gateway_connections(\{[^}]*\})? \d+$/m);
  });
});
