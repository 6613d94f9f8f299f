/**
 * How Prometheus scrapes a GossipCluster's api, gateway and engine, defined once: the
 * endpoints and relabelings of the chart's PodMonitor (generated into the chart's
 * `files/scrape.yaml`) and of a GossipCluster's own ServiceMonitor
 * (`spec.monitoring.serviceMonitor`). Both give every series the `cluster`, `component` and
 * `pod` labels that the alerts (./alerts.ts) and the dashboards select on.
 *
 * The relabelings read pod labels: a ServiceMonitor's targets are endpoints backed by pods,
 * and Prometheus attaches the pod's labels to those as well, so one list serves both kinds.
 */
import type { AppComponent } from '../constructs/naming.js';
import {
  httpPortName,
  labelsFor,
  managedBy,
  opsPortName,
  separateOpsPort,
} from '../constructs/naming.js';

/** A relabel rule as prometheus-operator's CRDs spell it. */
export interface Relabeling {
  readonly sourceLabels: readonly string[];
  readonly targetLabel?: string;
  readonly regex?: string;
  readonly action?: 'drop' | 'keep' | 'replace';
}

/** One endpoint of a PodMonitor (`podMetricsEndpoints`) or ServiceMonitor (`endpoints`). */
export interface ScrapeEndpoint {
  readonly port: string;
  readonly path: string;
  readonly relabelings: readonly Relabeling[];
}

/**
 * The labels that pick the workloads of every GossipCluster the operator runs (the chart's
 * PodMonitor, across clusters); a cluster's own ServiceMonitor adds its instance label.
 */
export const allClustersSelector: Readonly<Record<string, string>> = {
  'app.kubernetes.io/name': labelsFor('', 'api')['app.kubernetes.io/name']!,
  'app.kubernetes.io/managed-by': managedBy,
};

/** The components scraped (the monitors' `app.kubernetes.io/component In` selector). */
export const scrapedComponents: readonly AppComponent[] = ['api', 'gateway', 'engine'];

const componentLabel = '__meta_kubernetes_pod_label_app_kubernetes_io_component';

/** The target labels every Gossip series gets: `cluster`, `component`, `pod`. */
export const targetRelabelings: readonly Relabeling[] = [
  {
    sourceLabels: ['__meta_kubernetes_pod_label_app_kubernetes_io_instance'],
    targetLabel: 'cluster',
  },
  { sourceLabels: [componentLabel], targetLabel: 'component' },
  { sourceLabels: ['__meta_kubernetes_pod_name'], targetLabel: 'pod' },
];

/**
 * The two endpoints: the components with an ops port of their own (`separateOpsPort`) are
 * scraped there; the rest on `http`, where they serve `/metrics` (the others' `http` is
 * public, has no `/metrics`, and is dropped).
 */
export function scrapeEndpoints(): ScrapeEndpoint[] {
  return [
    { port: opsPortName, path: '/metrics', relabelings: [...targetRelabelings] },
    {
      port: httpPortName,
      path: '/metrics',
      relabelings: [
        { sourceLabels: [componentLabel], regex: `(${separateOpsPort.join('|')})`, action: 'drop' },
        ...targetRelabelings,
      ],
    },
  ];
}
