import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Testing } from 'cdk8s';
import type { KubeObject } from '../../src/constructs/kube-object.js';
import { GossipMonitoring } from '../../src/constructs/monitoring.js';
import { alertGroups, type AlertGroup } from '../../src/monitoring/alerts.js';
import { context, find } from '../fixtures.js';

const shared = {
  'app.kubernetes.io/name': 'gossip',
  'app.kubernetes.io/instance': 'demo',
  'app.kubernetes.io/managed-by': 'gossip-operator',
};

const targetLabels = [
  {
    sourceLabels: ['__meta_kubernetes_pod_label_app_kubernetes_io_instance'],
    targetLabel: 'cluster',
  },
  {
    sourceLabels: ['__meta_kubernetes_pod_label_app_kubernetes_io_component'],
    targetLabel: 'component',
  },
  { sourceLabels: ['__meta_kubernetes_pod_name'], targetLabel: 'pod' },
];

describe('GossipMonitoring', () => {
  it('emits nothing by default (the prometheus-operator CRDs may be absent)', () => {
    const chart = Testing.chart();
    new GossipMonitoring(chart, 'M', { cluster: context() });
    assert.deepStrictEqual(Testing.synth(chart), []);
  });

  it('scrapes /metrics of the api and the gateway on their ops port, of the engine on http, labelling cluster, component and pod', () => {
    // GIVEN
    const chart = Testing.chart();
    // WHEN
    new GossipMonitoring(chart, 'M', {
      cluster: context({ monitoring: { serviceMonitor: true } }),
    });
    const objects = Testing.synth(chart) as KubeObject[];
    // THEN
    assert.deepStrictEqual(find(objects, 'ServiceMonitor', 'demo'), {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: { name: 'demo', labels: shared },
      spec: {
        selector: {
          matchLabels: { 'app.kubernetes.io/name': 'gossip', 'app.kubernetes.io/instance': 'demo' },
          matchExpressions: [
            {
              key: 'app.kubernetes.io/component',
              operator: 'In',
              values: ['api', 'gateway', 'engine'],
            },
          ],
        },
        endpoints: [
          { port: 'ops', path: '/metrics', interval: '30s', relabelings: targetLabels },
          {
            port: 'http',
            path: '/metrics',
            interval: '30s',
            relabelings: [
              {
                sourceLabels: ['__meta_kubernetes_pod_label_app_kubernetes_io_component'],
                regex: '(api|gateway)',
                action: 'drop',
              },
              ...targetLabels,
            ],
          },
        ],
      },
    });
  });

  it("alerts with the chart's rules, every series selector narrowed to this cluster", () => {
    // GIVEN
    const chart = Testing.chart();
    const cluster = context({ monitoring: { prometheusRule: true }, gateway: { maxReplicas: 6 } });
    // WHEN
    new GossipMonitoring(chart, 'M', { cluster });
    const rule = find(Testing.synth(chart) as KubeObject[], 'PrometheusRule', 'demo');
    // THEN
    const groups = (rule.spec as { groups: AlertGroup[] }).groups;
    assert.deepStrictEqual(groups, alertGroups({ namespace: cluster.namespace, cluster: 'demo' }));
    const rules = groups.flatMap((g) => g.rules);
    const names = rules.map((r) => r.alert);
    const chartNames = alertGroups().flatMap((g) => g.rules.map((r) => r.alert));
    // The same alerts as the chart's files/alerts.yaml, less the operator's own.
    assert.deepStrictEqual(
      names,
      chartNames.filter((n) => n !== 'GossipOperatorReconcileErrors'),
    );
    for (const n of ['GossipInstanceDown', 'GossipComponentDown', 'GossipGatewaysAtMaxReplicas']) {
      assert.ok(names.includes(n), n);
    }
    for (const r of rules) {
      // Every metric selector carries this cluster's namespace and name.
      const selectors = r.expr.match(/\b(gossip_[a-z_]+|up)(\{[^}]*\})?/g) ?? [];
      assert.ok(selectors.length > 0, r.alert);
      for (const sel of selectors) {
        assert.ok(
          sel.includes(`{namespace="${cluster.namespace}",cluster="demo"`),
          `${r.alert}: ${sel}`,
        );
      }
    }
  });
});
