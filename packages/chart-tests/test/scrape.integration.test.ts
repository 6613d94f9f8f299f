/**
 * The scrape configuration the cluster's Prometheus test generates from the chart's
 * PodMonitor and ServiceMonitor (src/scrape.ts): limited to the watched namespace, selecting
 * what the monitors select. (promtool and a real scrape check it in prometheus.cluster.ts:
 * Debian's promtool here has no Kubernetes discovery.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderChart } from '../src/index.js';
import { scrapeConfigsFor, type Monitor } from '../src/scrape.js';

const monitors = (): Monitor[] =>
  renderChart([
    '-n',
    'chat',
    '--set',
    'monitoring.podMonitor.enabled=true',
    '--set',
    'monitoring.serviceMonitor.enabled=true',
  ]).objects.filter(
    (o) => o.kind === 'PodMonitor' || o.kind === 'ServiceMonitor',
  ) as unknown as Monitor[];

test('one job per monitor endpoint, discovering only in the release namespace, with the chart’s selectors and ports as keep rules', () => {
  const configs = scrapeConfigsFor(monitors(), '/k', '5s');
  const pm = monitors().find((m) => m.kind === 'PodMonitor')!;
  const sm = monitors().find((m) => m.kind === 'ServiceMonitor')!;
  const expectedJobs = [
    ...(pm.spec.podMetricsEndpoints ?? []).map(
      (_, i) => `podMonitor/chat/${pm.metadata.name}/${i}`,
    ),
    ...(sm.spec.endpoints ?? []).map((_, i) => `serviceMonitor/chat/${sm.metadata.name}/${i}`),
  ];
  assert.deepEqual(
    configs.map((c) => c.job_name),
    expectedJobs,
  );
  for (const c of configs) {
    assert.equal(c.scrape_interval, '5s');
    const [sd] = c.kubernetes_sd_configs as { namespaces: { names: string[] } }[];
    assert.deepEqual(sd?.namespaces.names, ['chat']);
  }
  const rules = configs[0]!.relabel_configs as {
    action?: string;
    source_labels?: string[];
    regex?: string;
  }[];
  const keeps = rules
    .filter((r) => r.action === 'keep')
    .map((r) => `${r.source_labels?.[0]}=${r.regex}`);
  for (const [k, v] of Object.entries(pm.spec.selector?.matchLabels ?? {})) {
    assert.ok(
      keeps.includes(`__meta_kubernetes_pod_label_${k.replace(/[^a-zA-Z0-9_]/g, '_')}=(${v});true`),
      `${k}=${v} kept: ${keeps.join(', ')}`,
    );
  }
  assert.ok(
    keeps.includes(
      `__meta_kubernetes_pod_container_port_name=${pm.spec.podMetricsEndpoints?.[0]?.port}`,
    ),
  );
  // The chart's own relabelings come last, unchanged.
  const own = pm.spec.podMetricsEndpoints?.[0]?.relabelings ?? [];
  assert.deepEqual(
    rules.slice(rules.length - own.length).map((r) => r.source_labels),
    own.map((r) => r.sourceLabels),
  );
});
