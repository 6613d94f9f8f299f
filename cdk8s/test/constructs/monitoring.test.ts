import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Testing } from 'cdk8s';
import type { KubeObject } from '../../src/constructs/kube-object.js';
import { GossipMonitoring } from '../../src/constructs/monitoring.js';
import { context, find } from '../fixtures.js';

const shared = {
  'app.kubernetes.io/name': 'gossip',
  'app.kubernetes.io/instance': 'demo',
  'app.kubernetes.io/managed-by': 'gossip-operator',
};

describe('GossipMonitoring', () => {
  it('emits nothing by default (the prometheus-operator CRDs may be absent)', () => {
    const chart = Testing.chart();
    new GossipMonitoring(chart, 'M', { cluster: context() });
    assert.deepStrictEqual(Testing.synth(chart), []);
  });

  it('scrapes /metrics of the api and the gateway on their ops port, of the engine on http', () => {
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
          { port: 'ops', path: '/metrics', interval: '30s' },
          {
            port: 'http',
            path: '/metrics',
            interval: '30s',
            relabelings: [
              {
                sourceLabels: ['__meta_kubernetes_service_label_app_kubernetes_io_component'],
                regex: '(api|gateway)',
                action: 'drop',
              },
            ],
          },
        ],
      },
    });
  });

  it('alerts on unscrapeable targets and on gateways stuck at maxReplicas', () => {
    const chart = Testing.chart();
    const cluster = context({ monitoring: { prometheusRule: true }, gateway: { maxReplicas: 6 } });
    new GossipMonitoring(chart, 'M', { cluster });
    const rule = find(Testing.synth(chart) as KubeObject[], 'PrometheusRule', 'demo');
    const rules = (rule.spec as { groups: { rules: { alert: string; expr: string }[] }[] })
      .groups[0]!.rules;
    assert.deepStrictEqual(
      rules.map((r) => r.alert),
      ['GossipTargetDown', 'GossipGatewaysAtMaximum'],
    );
    assert.match(rules[1]!.expr, />= 6$/);
  });
});
