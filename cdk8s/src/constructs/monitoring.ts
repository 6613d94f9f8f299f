/**
 * prometheus-operator objects for one cluster, each behind its spec switch (they need the
 * monitoring.coreos.com CRDs, which not every cluster has). What they scrape and alert on is
 * the one definition in ../monitoring, which the chart's PodMonitor and rules file use too.
 */
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { alertGroups } from '../monitoring/alerts.js';
import { scrapeEndpoints, scrapedComponents } from '../monitoring/scrape.js';
import type { ClusterContext } from './context.js';
import { labelsFor, namesFor } from './naming.js';

export interface GossipMonitoringProps {
  /** The cluster to monitor; `spec.monitoring` decides what is emitted. */
  readonly cluster: ClusterContext;
}

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
              'app.kubernetes.io/name': labels['app.kubernetes.io/name'],
              'app.kubernetes.io/instance': cluster.name,
            },
            matchExpressions: [
              {
                key: 'app.kubernetes.io/component',
                operator: 'In',
                values: [...scrapedComponents],
              },
            ],
          },
          endpoints: scrapeEndpoints().map((e) => ({ ...e, interval: '30s' })),
        },
      });
    }
    if (cluster.spec.monitoring.prometheusRule) {
      new ApiObject(this, 'PrometheusRule', {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'PrometheusRule',
        metadata: { name, labels },
        spec: { groups: alertGroups({ namespace: cluster.namespace, cluster: cluster.name }) },
      });
    }
  }
}
