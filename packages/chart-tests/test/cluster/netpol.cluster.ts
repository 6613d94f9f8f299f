/**
 * The GossipCluster's NetworkPolicies enforced by a real controller (issue 14 §3.8): the node
 * runs kube-router's network-policy controller (packages/testenv/src/policy-controller.ts),
 * and the operator emits the cdk8s NetworkPolicies (`spec.networkPolicy.enabled`, the
 * default: deny everything, allow each component exactly the connections it makes). Checked
 * from inside real pods, with TCP connections opened by `node` in the product images:
 * - the gateway cannot open a connection to MongoDB, the engine and the api can;
 * - the gateway and the engine reach RabbitMQ and Redis, the api does not reach RabbitMQ;
 * - a pod of no component (a probe, in the same namespace) cannot reach MongoDB, Redis,
 *   RabbitMQ or the gateway's ops port, but does reach the public api and gateway ports (so
 *   what is refused is refused by policy, not by a broken network);
 * - the operator pod reaches the gateway's ops port (its autoscaler reads /metrics there);
 * - and the product still works: SDK clients chat both ways through the Services.
 *
 * Needs `npm run testenv -- up --node` and `npm run testenv -- images`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventually, uniqueName } from '@gossip/testenv';
import { kubectl } from '../../src/index.js';
import {
  apply,
  chatBothWays,
  clusterUrls,
  clusterUsers,
  componentPods,
  diagnose,
  dropNamespace,
  image,
  installCluster,
  json,
  pods,
  ready,
  reportFigures,
  requireNode,
  serviceIp,
  smallRequests,
} from './support.js';
import { namesFor, opsPorts, ports } from '../../../../cdk8s/src/constructs/naming.js';

const ns = uniqueName('netpol');
const cluster = 'np';
const names = namesFor(cluster);
const figures: string[] = [];
const PROBE = 'netpol-probe';
/** The chart's operator pod (its selector labels). */
const OPERATOR = 'app.kubernetes.io/name=gossip,app.kubernetes.io/component=operator';

/**
 * Opens a TCP connection from inside `pod` to `host:port` with the image's own node; the
 * answer is `open`, `timeout` (dropped) or the error code (refused, reset, unreachable).
 */
function reach(pod: string, host: string, port: number): string {
  const script = [
    "const s = require('net').connect({ host: process.argv[1], port: Number(process.argv[2]) });",
    "s.setTimeout(4000, () => { console.log('timeout'); process.exit(0); });",
    "s.on('connect', () => { console.log('open'); process.exit(0); });",
    "s.on('error', (e) => { console.log(e.code || String(e)); process.exit(0); });",
  ].join(' ');
  return kubectl(['-n', ns, 'exec', pod, '--', 'node', '-e', script, host, String(port)], {
    timeoutMs: 30_000,
  }).stdout.trim();
}

/** The first Ready pod of a component. */
function podOf(component: string): string {
  const p = componentPods(ns, cluster, component).find(ready);
  assert.ok(p, `a Ready ${component} pod\n${diagnose(ns)}`);
  return p.metadata.name;
}

const store = (s: 'rabbitmq' | 'mongodb' | 'redis'): [string, number] => [
  serviceIp(ns, names.store(s)),
  ports[s],
];

before(() => requireNode());

after(() => {
  reportFigures('netpol.cluster.ts', figures);
  dropNamespace(ns);
});

describe('NetworkPolicies on the real node (kube-router)', () => {
  test('the operator emits a NetworkPolicy per component and the cluster becomes Ready under them', async () => {
    const t = await installCluster(ns, cluster, smallRequests());
    figures.push(
      `kubectl apply to GossipCluster Ready True (policies enforced): ${t.clusterReady.toFixed(1)} s`,
    );
    const policies = json<{ items: { metadata: { name: string } }[] }>([
      '-n',
      ns,
      'get',
      'networkpolicies',
    ]).items.map((p) => p.metadata.name);
    for (const c of ['api', 'gateway', 'engine', 'rabbitmq', 'mongodb', 'redis'] as const) {
      assert.ok(
        policies.includes(names.networkPolicy(c)),
        `${names.networkPolicy(c)} in ${policies.join(', ')}`,
      );
    }
    // A pod of no component, on the engine image (it has node to open connections with).
    apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: PROBE, namespace: ns, labels: { app: PROBE } },
      spec: {
        terminationGracePeriodSeconds: 0,
        containers: [
          {
            name: 'probe',
            image: image('engine'),
            imagePullPolicy: 'Never',
            command: ['node', '-e', 'setInterval(() => {}, 1 << 30)'],
            resources: { requests: { cpu: '5m', memory: '32Mi' } },
          },
        ],
      },
    });
    await eventually(
      () => pods(ns, `app=${PROBE}`).some(ready),
      'the probe pod to be Ready',
      120_000,
      1000,
    );
  });

  test('the gateway pod cannot open a connection to MongoDB; the engine and the api can', async () => {
    const [mongoIp, mongoPort] = store('mongodb');
    // kube-router programs a new pod's chains within its sync; the first answers may precede it.
    await eventually(
      () => reach(podOf('gateway'), mongoIp, mongoPort) !== 'open',
      'the gateway to be refused MongoDB',
      60_000,
      2000,
    );
    assert.notEqual(reach(podOf('gateway'), mongoIp, mongoPort), 'open');
    assert.equal(reach(podOf('engine'), mongoIp, mongoPort), 'open');
    assert.equal(reach(podOf('api'), mongoIp, mongoPort), 'open');
  });

  test('each app component reaches the stores it uses and only those', () => {
    const rabbit = store('rabbitmq');
    const redis = store('redis');
    assert.equal(reach(podOf('gateway'), ...rabbit), 'open');
    assert.equal(reach(podOf('gateway'), ...redis), 'open');
    assert.equal(reach(podOf('engine'), ...rabbit), 'open');
    assert.equal(reach(podOf('engine'), ...redis), 'open');
    assert.equal(reach(podOf('api'), ...redis), 'open');
    assert.notEqual(reach(podOf('api'), ...rabbit), 'open', 'the api does not use RabbitMQ');
  });

  test('a pod of no component reaches the public ports only: not the stores, not the gateway ops port', () => {
    const gatewayIp = serviceIp(ns, names.app('gateway'));
    const apiIp = serviceIp(ns, names.app('api'));
    // Its network works: clients may come from anywhere to the public ports.
    assert.equal(reach(PROBE, gatewayIp, ports.gateway), 'open');
    assert.equal(reach(PROBE, apiIp, ports.api), 'open');
    const refused: Record<string, string> = {
      mongodb: reach(PROBE, ...store('mongodb')),
      redis: reach(PROBE, ...store('redis')),
      rabbitmq: reach(PROBE, ...store('rabbitmq')),
      'gateway ops': reach(PROBE, gatewayIp, opsPorts.gateway),
    };
    figures.push(`probe pod answers: ${JSON.stringify(refused)}`);
    for (const [what, answer] of Object.entries(refused)) {
      assert.notEqual(answer, 'open', `the probe pod reached ${what}`);
    }
  });

  test('the operator pod reaches the gateway ops port (the autoscaler reads /metrics there)', () => {
    const operator = pods(ns, OPERATOR).find(ready);
    assert.ok(operator, diagnose(ns));
    const gatewayIp = serviceIp(ns, names.app('gateway'));
    assert.equal(reach(operator.metadata.name, gatewayIp, opsPorts.gateway), 'open');
  });

  test('the product still works under the policies: SDK clients chat both ways', async () => {
    const [a, b] = await clusterUsers(clusterUrls(ns, cluster), ['ann', 'ben']);
    const suffix = Math.random().toString(36).slice(2, 8);
    await chatBothWays(a!, b!, [`hello ben ${suffix}`, `hello ann ${suffix}`]);
  });
});
