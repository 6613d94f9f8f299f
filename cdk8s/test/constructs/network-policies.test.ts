import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Testing } from 'cdk8s';
import type { GossipClusterSpec } from '../../src/api/v1alpha1.js';
import { buildClusterObjects } from '../../src/build.js';
import type { KubeObject } from '../../src/constructs/kube-object.js';
import { labelsFor, type Component } from '../../src/constructs/naming.js';
import { GossipNetworkPolicies } from '../../src/constructs/network-policies.js';
import { cluster, context, find } from '../fixtures.js';

/** A pod as NetworkPolicy sees it: its namespace (with labels) and its own labels. */
interface Pod {
  namespace: string;
  namespaceLabels: Record<string, string>;
  labels: Record<string, string>;
}
type Selector = { matchLabels?: Record<string, string> };
type Peer = { podSelector?: Selector; namespaceSelector?: Selector };
type Rule = { from?: Peer[]; to?: Peer[]; ports?: { protocol: string; port: number }[] };
type PolicySpec = {
  podSelector: Selector;
  policyTypes: string[];
  ingress?: Rule[];
  egress?: Rule[];
};

const matches = (sel: Selector | undefined, labels: Record<string, string>): boolean =>
  Object.entries(sel?.matchLabels ?? {}).every(([k, v]) => labels[k] === v);

const podOf = (c: Component): Pod => ({
  namespace: 'chat',
  namespaceLabels: { 'kubernetes.io/metadata.name': 'chat' },
  labels: labelsFor('demo', c),
});
const prometheus: Pod = {
  namespace: 'monitoring',
  namespaceLabels: { 'kubernetes.io/metadata.name': 'monitoring' },
  labels: { 'app.kubernetes.io/name': 'prometheus' },
};
const operatorPod: Pod = {
  namespace: 'gossip-system',
  namespaceLabels: { 'kubernetes.io/metadata.name': 'gossip-system' },
  labels: { 'app.kubernetes.io/name': 'gossip', 'app.kubernetes.io/component': 'operator' },
};
const stranger: Pod = {
  namespace: 'chat',
  namespaceLabels: { 'kubernetes.io/metadata.name': 'chat' },
  labels: { app: 'something-else' },
};

/**
 * NetworkPolicy semantics (networking.k8s.io/v1), for TCP: a pod selected by no policy of a
 * direction is open in that direction; otherwise some rule of a selecting policy must allow the
 * port and the peer. Both the source's egress and the destination's ingress must allow.
 */
function reachable(policies: KubeObject[], src: Pod, dst: Pod, port: number): boolean {
  const side = (pod: Pod, peer: Pod, type: 'Ingress' | 'Egress') => {
    const selecting = policies.filter(
      (p) =>
        p.metadata.namespace === pod.namespace &&
        matches((p.spec as PolicySpec).podSelector, pod.labels) &&
        (p.spec as PolicySpec).policyTypes.includes(type),
    );
    if (selecting.length === 0) return true;
    return selecting.some((p) => {
      const spec = p.spec as PolicySpec;
      const rules = (type === 'Ingress' ? spec.ingress : spec.egress) ?? [];
      return rules.some((r) => {
        const portOk = !r.ports || r.ports.some((x) => x.protocol === 'TCP' && x.port === port);
        const peers = type === 'Ingress' ? r.from : r.to;
        const peerOk =
          !peers ||
          peers.some(
            (q) =>
              matches(q.podSelector, peer.labels) &&
              (q.namespaceSelector
                ? matches(q.namespaceSelector, peer.namespaceLabels)
                : peer.namespace === p.metadata.namespace),
          );
        return portOk && peerOk;
      });
    });
  };
  return side(src, dst, 'Egress') && side(dst, src, 'Ingress');
}

const policiesOf = (spec: GossipClusterSpec = {}): KubeObject[] =>
  buildClusterObjects(cluster(spec)).filter((o) => o.kind === 'NetworkPolicy');

const storePorts = { rabbitmq: 5672, mongodb: 27017, redis: 6379 } as const;

describe('GossipNetworkPolicies', () => {
  it('a default cluster gets a default-deny policy plus one per component, all both directions', () => {
    // GIVEN / WHEN
    const policies = policiesOf();
    // THEN
    assert.deepStrictEqual(
      policies.map((p) => p.metadata.name),
      [
        'demo-default-deny',
        'demo-api',
        'demo-gateway',
        'demo-engine',
        'demo-rabbitmq',
        'demo-mongodb',
        'demo-redis',
      ],
    );
    for (const p of policies) {
      assert.deepStrictEqual((p.spec as PolicySpec).policyTypes, ['Ingress', 'Egress']);
    }
    assert.deepStrictEqual(find(policies, 'NetworkPolicy', 'demo-default-deny').spec, {
      podSelector: {
        matchLabels: {
          'app.kubernetes.io/name': 'gossip',
          'app.kubernetes.io/instance': 'demo',
          'app.kubernetes.io/managed-by': 'gossip-operator',
        },
      },
      policyTypes: ['Ingress', 'Egress'],
    });
  });

  it('the gateway policy allows exactly: clients and the operator in, RabbitMQ, Redis and DNS out', () => {
    // GIVEN
    const chart = Testing.chart();
    // WHEN
    new GossipNetworkPolicies(chart, 'N', { cluster: context() });
    const objects = Testing.synth(chart) as KubeObject[];
    // THEN
    const store = (c: string) => ({
      podSelector: {
        matchLabels: {
          'app.kubernetes.io/name': 'gossip',
          'app.kubernetes.io/instance': 'demo',
          'app.kubernetes.io/component': c,
        },
      },
    });
    assert.deepStrictEqual(find(objects, 'NetworkPolicy', 'demo-gateway').spec, {
      podSelector: {
        matchLabels: {
          'app.kubernetes.io/name': 'gossip',
          'app.kubernetes.io/instance': 'demo',
          'app.kubernetes.io/component': 'gateway',
        },
      },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        { ports: [{ protocol: 'TCP', port: 8081 }] },
        {
          from: [
            {
              namespaceSelector: {},
              podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } },
            },
            {
              namespaceSelector: {},
              podSelector: {
                matchLabels: {
                  'app.kubernetes.io/name': 'gossip',
                  'app.kubernetes.io/component': 'operator',
                },
              },
            },
          ],
          ports: [{ protocol: 'TCP', port: 9092 }],
        },
      ],
      egress: [
        {
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
        { to: [store('rabbitmq')], ports: [{ protocol: 'TCP', port: 5672 }] },
        { to: [store('redis')], ports: [{ protocol: 'TCP', port: 6379 }] },
      ],
    });
  });

  it('each component reaches exactly the stores it uses (the gateway never reaches MongoDB)', () => {
    // GIVEN
    const policies = policiesOf();
    const uses: Record<'api' | 'gateway' | 'engine', (keyof typeof storePorts)[]> = {
      api: ['mongodb', 'redis'],
      gateway: ['rabbitmq', 'redis'],
      engine: ['rabbitmq', 'mongodb', 'redis'],
    };
    // WHEN / THEN every (component, store) pair, both ways
    for (const [c, used] of Object.entries(uses)) {
      for (const [s, port] of Object.entries(storePorts)) {
        const want = used.includes(s as keyof typeof storePorts);
        const got = reachable(policies, podOf(c as Component), podOf(s as Component), port);
        assert.equal(got, want, `${c} -> ${s}:${port} should be ${want ? 'open' : 'closed'}`);
      }
    }
    // The stores never dial out to the apps, nor to one another.
    for (const s of Object.keys(storePorts) as (keyof typeof storePorts)[]) {
      for (const t of ['api', 'gateway', 'engine', 'rabbitmq', 'mongodb', 'redis'] as const) {
        if (t === s) continue;
        for (const port of [8080, 8081, 9090, 9091, 9092, 5672, 27017, 6379]) {
          assert.equal(
            reachable(policies, podOf(s), podOf(t), port),
            false,
            `${s} -> ${t}:${port}`,
          );
        }
      }
    }
    // A pod of another app in the namespace reaches no store, and no ops port.
    for (const [s, port] of Object.entries(storePorts)) {
      assert.equal(reachable(policies, stranger, podOf(s as Component), port), false, s);
    }
    assert.equal(reachable(policies, stranger, podOf('engine'), 9091), false);
    assert.equal(reachable(policies, stranger, podOf('api'), 9090), false);
    // The gateway's /metrics is on its ops port, which clients cannot reach.
    assert.equal(reachable(policies, stranger, podOf('gateway'), 9092), false);
  });

  it('clients reach only the public ports; monitoring the ops ports; the operator the gateway', () => {
    const policies = policiesOf();
    // Clients (modelled as a pod in no selector) reach the api and the gateway public ports.
    assert.equal(reachable(policies, stranger, podOf('api'), 8080), true);
    assert.equal(reachable(policies, stranger, podOf('gateway'), 8081), true);
    for (const [c, port] of [
      ['api', 9090],
      ['gateway', 8081],
      ['gateway', 9092],
      ['engine', 9091],
    ] as const) {
      assert.equal(reachable(policies, prometheus, podOf(c), port), true, `scrape ${c}:${port}`);
    }
    assert.equal(reachable(policies, operatorPod, podOf('gateway'), 8081), true);
    // The autoscaler reads the gateway's ops port; the operator reaches no other ops port.
    assert.equal(reachable(policies, operatorPod, podOf('gateway'), 9092), true);
    assert.equal(reachable(policies, operatorPod, podOf('api'), 9090), false);
    assert.equal(reachable(policies, operatorPod, podOf('engine'), 9091), false);
    assert.equal(reachable(policies, prometheus, podOf('mongodb'), 27017), false);
  });

  it('the monitoring and operator selectors come from spec.networkPolicy', () => {
    const policies = policiesOf({
      networkPolicy: {
        monitoring: {
          namespaceSelector: { 'kubernetes.io/metadata.name': 'observability' },
          podSelector: { app: 'vmagent' },
        },
      },
    });
    const vmagent: Pod = {
      namespace: 'observability',
      namespaceLabels: { 'kubernetes.io/metadata.name': 'observability' },
      labels: { app: 'vmagent' },
    };
    assert.equal(reachable(policies, vmagent, podOf('engine'), 9091), true);
    assert.equal(reachable(policies, prometheus, podOf('engine'), 9091), false);
  });

  it('an external MongoDB: api and engine may reach its ports anywhere, the gateway still not', () => {
    const policies = policiesOf({
      mongodb: { external: { secretRef: { name: 'mongo', key: 'url' } } },
    });
    assert.ok(!policies.some((p) => p.metadata.name === 'demo-mongodb'));
    const outsideDb: Pod = {
      namespace: 'elsewhere',
      namespaceLabels: {},
      labels: {},
    };
    assert.equal(reachable(policies, podOf('api'), outsideDb, 27017), true);
    assert.equal(reachable(policies, podOf('engine'), outsideDb, 27017), true);
    assert.equal(reachable(policies, podOf('gateway'), outsideDb, 27017), false);
    assert.equal(reachable(policies, podOf('api'), outsideDb, 443), false);
  });

  it('spec.networkPolicy.enabled: false emits none, and the construct refuses to run for it', () => {
    assert.deepStrictEqual(policiesOf({ networkPolicy: { enabled: false } }), []);
    assert.throws(
      () =>
        new GossipNetworkPolicies(Testing.chart(), 'N', {
          cluster: context({ networkPolicy: { enabled: false } }),
        }),
      /spec\.networkPolicy\.enabled/,
    );
  });
});
