/**
 * prometheus-operator objects for one cluster, each behind its spec switch (they need the
 * monitoring.coreos.com CRDs, which not every cluster has).
 */
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import type { ClusterContext } from './context.js';
import type { AppComponent } from './naming.js';
import { httpPortName, labelsFor, namesFor, opsPortName, separateOpsPort } from './naming.js';

export interface GossipMonitoringProps {
  /** The cluster to monitor; `spec.monitoring` decides what is emitted. */
  readonly cluster: ClusterContext;
}

const apps: readonly AppComponent[] = ['api', 'gateway', 'engine'];

/** A ServiceMonitor scraping `/metrics` of api, gateway and engine, and alerting rules. */
export class GossipMonitoring extends Construct {
  constructor(scope: Construct, id: string, props: GossipMonitoringProps) {
    super(scope, id);
    const { cluster } = props;
    const name = namesFor(cluster.name).monitoring;
    // The objects span components; they carry the shared labels without a component.
    const { 'app.kubernetes.io/component': _component, ...labels } = labelsFor(cluster.name, 'api');
    if (cluster.spec.monitoring.serviceMonitor) {
      new ApiObject(this, 'ServiceMonitor', {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'ServiceMonitor',
        metadata: { name, labels },
        spec: {
          selector: {
            matchLabels: {
              'app.kubernetes.io/name': 'gossip',
              'app.kubernetes.io/instance': cluster.name,
            },
            matchExpressions: [
              { key: 'app.kubernetes.io/component', operator: 'In', values: [...apps] },
            ],
          },
          // The components with an ops port of their own are scraped there; the rest on
          // `http`, where they serve /metrics (the others' `http` is public and has none).
          endpoints: [
            { port: opsPortName, path: '/metrics', interval: '30s' },
            {
              port: httpPortName,
              path: '/metrics',
              interval: '30s',
              relabelings: [
                {
                  sourceLabels: ['__meta_kubernetes_service_label_app_kubernetes_io_component'],
                  regex: `(${separateOpsPort.join('|')})`,
                  action: 'drop',
                },
              ],
            },
          ],
        },
      });
    }
    if (cluster.spec.monitoring.prometheusRule) {
      const selector = `namespace="${cluster.namespace}",service=~"${cluster.name}-(api|gateway|engine)"`;
      new ApiObject(this, 'PrometheusRule', {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'PrometheusRule',
        metadata: { name, labels },
        spec: {
          groups: [
            {
              name: `gossip-${cluster.name}`,
              rules: [
                {
                  alert: 'GossipTargetDown',
                  expr: `up{${selector}} == 0`,
                  for: '5m',
                  labels: { severity: 'warning' },
                  annotations: { summary: '{{ $labels.pod }} of Gossip cluster is not scrapeable' },
                },
                {
                  alert: 'GossipGatewaysAtMaximum',
                  expr: `count(up{namespace="${cluster.namespace}",service="${cluster.name}-gateway"}) >= ${cluster.spec.gateway.maxReplicas}`,
                  for: '15m',
                  labels: { severity: 'warning' },
                  annotations: { summary: 'gateways are at spec.gateway.maxReplicas; raise it' },
                },
              ],
            },
          ],
        },
      });
    }
  }
}
