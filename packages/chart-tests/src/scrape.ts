/**
 * Prometheus scrape configurations from the chart's PodMonitor and ServiceMonitor objects,
 * translated the way prometheus-operator does it (the subset of fields the chart uses), so a
 * plain Prometheus on the test host scrapes the cluster with exactly the selection and
 * relabelling the chart ships instead of a second, hand-written copy.
 *
 * prometheus-operator's generator (pkg/prometheus/promcfg.go): one job per endpoint named
 * `podMonitor/<ns>/<name>/<i>` or `serviceMonitor/<ns>/<name>/<i>`, Kubernetes service
 * discovery limited to the selected namespaces, `keep` rules for the selector's labels and
 * the endpoint's port name, the standard target labels (namespace, container, pod, service,
 * job, endpoint), then the object's own relabelings.
 */

/** A relabel rule as prometheus-operator's CRDs and Prometheus both spell it (camelCase in CRDs). */
export interface RelabelConfig {
  sourceLabels?: string[];
  separator?: string;
  targetLabel?: string;
  regex?: string;
  replacement?: string;
  action?: string;
}

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

interface MonitorEndpoint {
  port?: string;
  path?: string;
  interval?: string;
  scrapeTimeout?: string;
  honorLabels?: boolean;
  relabelings?: RelabelConfig[];
}

/** The fields of a PodMonitor or ServiceMonitor this translation reads. */
export interface Monitor {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec: {
    jobLabel?: string;
    namespaceSelector?: { any?: boolean; matchNames?: string[] };
    selector?: LabelSelector;
    podMetricsEndpoints?: MonitorEndpoint[];
    endpoints?: MonitorEndpoint[];
  };
}

/** A Prometheus scrape_config (snake_case, as prometheus.yml spells it). */
export type ScrapeConfig = Record<string, unknown>;

/** Prometheus' label-name sanitising of Kubernetes label keys. */
const sanitize = (key: string): string => key.replace(/[^a-zA-Z0-9_]/g, '_');

const snake = (r: RelabelConfig): Record<string, unknown> => {
  const out: Record<string, unknown> = {};
  if (r.sourceLabels) out.source_labels = r.sourceLabels;
  if (r.separator !== undefined) out.separator = r.separator;
  if (r.targetLabel !== undefined) out.target_label = r.targetLabel;
  if (r.regex !== undefined) out.regex = r.regex;
  if (r.replacement !== undefined) out.replacement = r.replacement;
  if (r.action !== undefined) out.action = r.action.toLowerCase();
  return out;
};

/** `keep` rules equivalent to a label selector on `prefix` (`__meta_kubernetes_pod` …). */
function selectorRules(sel: LabelSelector | undefined, prefix: string): Record<string, unknown>[] {
  const rules: Record<string, unknown>[] = [];
  for (const [k, v] of Object.entries(sel?.matchLabels ?? {}).sort()) {
    const l = sanitize(k);
    rules.push({
      action: 'keep',
      source_labels: [`${prefix}_label_${l}`, `${prefix}_labelpresent_${l}`],
      regex: `(${v});true`,
    });
  }
  for (const e of sel?.matchExpressions ?? []) {
    const l = sanitize(e.key);
    const values = (e.values ?? []).join('|');
    const src = [`${prefix}_label_${l}`, `${prefix}_labelpresent_${l}`];
    switch (e.operator) {
      case 'In':
        rules.push({ action: 'keep', source_labels: src, regex: `(${values});true` });
        break;
      case 'NotIn':
        rules.push({ action: 'drop', source_labels: src, regex: `(${values});true` });
        break;
      case 'Exists':
        rules.push({ action: 'keep', source_labels: [src[1]], regex: 'true' });
        break;
      case 'DoesNotExist':
        rules.push({ action: 'drop', source_labels: [src[1]], regex: 'true' });
        break;
      default:
        throw new Error(`label selector operator ${e.operator} is not translated`);
    }
  }
  return rules;
}

function sdConfig(role: string, m: Monitor, kubeconfigFile: string): Record<string, unknown> {
  const ns = m.spec.namespaceSelector;
  const sd: Record<string, unknown> = { role, kubeconfig_file: kubeconfigFile };
  if (!ns?.any) sd.namespaces = { names: ns?.matchNames ?? [m.metadata.namespace] };
  return sd;
}

function endpointBase(e: MonitorEndpoint, job: string): ScrapeConfig {
  const c: ScrapeConfig = {
    job_name: job,
    honor_labels: e.honorLabels ?? false,
    metrics_path: e.path ?? '/metrics',
  };
  if (e.interval) c.scrape_interval = e.interval;
  if (e.scrapeTimeout) c.scrape_timeout = e.scrapeTimeout;
  return c;
}

/**
 * The scrape configurations for `monitors` (PodMonitor and ServiceMonitor objects as
 * rendered by the chart), discovering through the API server of `kubeconfigFile`.
 * `interval` replaces every endpoint's interval when given (tests scrape faster).
 */
export function scrapeConfigsFor(
  monitors: Monitor[],
  kubeconfigFile: string,
  interval?: string,
): ScrapeConfig[] {
  const out: ScrapeConfig[] = [];
  for (const m of monitors) {
    const ns = m.metadata.namespace ?? 'default';
    /** Endpoint `i` of `m`: its job name (as the Prometheus Operator names it) and discovery. */
    const start = (e: MonitorEndpoint, kind: string, i: number, role: string): ScrapeConfig => {
      const c = endpointBase(
        interval ? { ...e, interval } : e,
        `${kind}/${ns}/${m.metadata.name}/${i}`,
      );
      c.kubernetes_sd_configs = [sdConfig(role, m, kubeconfigFile)];
      return c;
    };
    if (m.kind === 'PodMonitor') {
      (m.spec.podMetricsEndpoints ?? []).forEach((e, i) => {
        const p = '__meta_kubernetes_pod';
        const c = start(e, 'podMonitor', i, 'pod');
        c.relabel_configs = [
          { source_labels: ['job'], target_label: '__tmp_prometheus_job_name' },
          // Finished pods keep their IPs in the API for a while: never scrape them.
          { action: 'drop', source_labels: [`${p}_phase`], regex: '(Failed|Succeeded)' },
          ...selectorRules(m.spec.selector, p),
          ...(e.port
            ? [{ action: 'keep', source_labels: [`${p}_container_port_name`], regex: e.port }]
            : []),
          { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
          { source_labels: [`${p}_container_name`], target_label: 'container' },
          { source_labels: [`${p}_name`], target_label: 'pod' },
          { target_label: 'job', replacement: `${ns}/${m.metadata.name}` },
          ...(e.port ? [{ target_label: 'endpoint', replacement: e.port }] : []),
          ...(e.relabelings ?? []).map(snake),
        ];
        out.push(c);
      });
    } else if (m.kind === 'ServiceMonitor') {
      (m.spec.endpoints ?? []).forEach((e, i) => {
        const s = '__meta_kubernetes_service';
        const c = start(e, 'serviceMonitor', i, 'endpoints');
        const job = m.spec.jobLabel
          ? [
              {
                source_labels: [`${s}_label_${sanitize(m.spec.jobLabel)}`],
                target_label: 'job',
                regex: '(.+)',
                replacement: '${1}',
              },
            ]
          : [];
        c.relabel_configs = [
          { source_labels: ['job'], target_label: '__tmp_prometheus_job_name' },
          ...selectorRules(m.spec.selector, s),
          ...(e.port
            ? [
                {
                  action: 'keep',
                  source_labels: ['__meta_kubernetes_endpoint_port_name'],
                  regex: e.port,
                },
              ]
            : []),
          {
            source_labels: [
              '__meta_kubernetes_endpoint_address_target_kind',
              '__meta_kubernetes_endpoint_address_target_name',
            ],
            separator: ';',
            regex: 'Node;(.*)',
            replacement: '${1}',
            target_label: 'node',
          },
          {
            source_labels: [
              '__meta_kubernetes_endpoint_address_target_kind',
              '__meta_kubernetes_endpoint_address_target_name',
            ],
            separator: ';',
            regex: 'Pod;(.*)',
            replacement: '${1}',
            target_label: 'pod',
          },
          { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
          { source_labels: [`${s}_name`], target_label: 'service' },
          { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
          { source_labels: ['__meta_kubernetes_pod_container_name'], target_label: 'container' },
          { source_labels: [`${s}_name`], target_label: 'job', replacement: '${1}' },
          ...job,
          ...(e.port ? [{ target_label: 'endpoint', replacement: e.port }] : []),
          ...(e.relabelings ?? []).map(snake),
        ];
        out.push(c);
      });
    }
  }
  return out;
}
