/**
 * Every dashboard panel's query returns data from a real Prometheus scraping the real
 * services: api, gateway and engine run as processes with a little traffic (messages
 * delivered and acked, one left unacked to be redelivered and expire, one to an offline
 * recipient, a resend), and the operator runs as a process with the chart's own RBAC (a token
 * of the ServiceAccount `helm install` created) reconciling a GossipCluster on the real
 * control plane. Their /metrics are registered with Prometheus through file_sd, carrying the
 * `namespace`, `cluster` and `component` labels the chart's PodMonitor would add in Kubernetes.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { newMessageId, type DeliverFrame } from '@gossip/protocol';
import { testEnv, type ManagedProcess } from '@gossip/testenv';
import {
  eventually,
  Stack,
  type GatewayService,
  type Service,
} from '../../../services/gateway/test/support/stack.js';
import { WsClient } from '../../../services/gateway/test/support/wsclient.js';
import {
  chartDir,
  dataPanels,
  helm,
  kubectl,
  loadDashboards,
  startChartOperator,
  substitute,
} from '../src/index.js';

const env = testEnv();
const stack = new Stack('dash');
const ns = stack.ns;
const cluster = 'demo';
const targetsFile = join(env.prometheusTargetsDir, `${ns}.json`);
const scratch = join(env.dir, 'scratch', ns);
let engine: Service;
let gateway: GatewayService;
let api: Service;
let operator: ManagedProcess | undefined;
let operatorPort = 0;
const clients: WsClient[] = [];

interface PromResult {
  metric: Record<string, string>;
  value: [number, string];
}

async function promQuery(query: string): Promise<PromResult[]> {
  const url = `${env.prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`;
  const res = await fetch(url);
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data?: { result: PromResult[] };
  };
  if (body.status !== 'success') throw new Error(`${query}: ${body.error ?? res.status}`);
  return body.data?.result ?? [];
}

async function metricValue(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return sum;
}

before(async () => {
  mkdirSync(scratch, { recursive: true });
  // Fast timers so redelivery and expiry happen within the test.
  engine = await stack.startEngine({
    ENGINE_REDELIVERY_SECONDS: '1',
    ENGINE_SCAN_INTERVAL_MS: '200',
    ENGINE_RETENTION_SECONDS: '6',
    ENGINE_SWEEP_INTERVAL_SECONDS: '1',
    ENGINE_STATS_INTERVAL_MS: '500',
    ENGINE_LOG_LEVEL: 'info',
  });
  gateway = await stack.startGateway({ GATEWAY_LOG_LEVEL: 'info' });
  api = await stack.startApi({ API_LOG_LEVEL: 'info' });

  // The operator, installed by the chart and run locally with the chart's ServiceAccount.
  kubectl(['apply', '--server-side', '--force-conflicts', '-f', join(chartDir, 'crds')]);
  kubectl(['create', 'namespace', ns]);
  helm(['install', 'gossip', chartDir, '-n', ns]);
  ({ operator, port: operatorPort } = await startChartOperator({
    namespace: ns,
    identity: 'dashboard-test',
    scratch,
    env: { OPERATOR_RESYNC_SECONDS: '5', OPERATOR_AUTOSCALE_INTERVAL_SECONDS: '2' },
  }));
  kubectl(['apply', '-n', ns, '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'gossip.dev/v1alpha1',
      kind: 'GossipCluster',
      metadata: { name: cluster },
      spec: { gateway: { minReplicas: 1, maxReplicas: 3 } },
    }),
  });

  const labels = (component: string, pod: string) => ({ namespace: ns, cluster, component, pod });
  writeFileSync(
    targetsFile,
    JSON.stringify([
      // The api's and the gateway's /metrics are on their ops ports (as the chart's
      // PodMonitor scrapes them).
      { targets: [new URL(api.metricsUrl).host], labels: labels('api', 'api-0') },
      { targets: [new URL(gateway.metricsUrl).host], labels: labels('gateway', 'gateway-0') },
      { targets: [`127.0.0.1:${engine.port}`], labels: labels('engine', 'engine-0') },
      // The operator's own series carry no cluster; its per-cluster series bring their own
      // namespace and cluster labels (the chart's ServiceMonitor uses honorLabels for them).
      {
        targets: [`127.0.0.1:${operatorPort}`],
        labels: { component: 'operator', pod: 'operator-0' },
      },
    ]),
  );

  // Prometheus scrapes every target before the traffic starts, so rate() sees it change.
  await eventually(
    async () => {
      const up = await promQuery(
        `up{namespace="${ns}"} == 1 or up{instance="127.0.0.1:${operatorPort}"} == 1`,
      );
      return up.length === 4;
    },
    'Prometheus to scrape all four targets',
    30_000,
  );

  // Traffic.
  await stack.createUsers('alice', 'bob', 'carol');
  await stack.makeContacts('alice', 'bob');
  await stack.makeContacts('alice', 'carol');
  const alice = await WsClient.connect(gateway.wsUrl, await stack.token('alice'));
  const bob = await WsClient.connect(gateway.wsUrl, await stack.token('bob'));
  clients.push(alice, bob);
  await bob.waitFor((f) => f.type === 'hello');
  for (let i = 0; i < 5; i++) {
    const id = newMessageId();
    alice.send({ type: 'send', id, to: 'bob', kind: 'message', body: `b64-${i}-AAAA` });
    await alice.waitFor((f) => f.type === 'accepted' && f.id === id);
    await bob.waitFor((f) => f.type === 'deliver' && f.id === id);
    bob.send({ type: 'ack', ids: [id] });
    if (i === 0) {
      // The same id again: an idempotent duplicate.
      alice.send({ type: 'send', id, to: 'bob', kind: 'message', body: `b64-${i}-AAAA` });
    }
  }
  // Left unacked: redelivered every second until it expires.
  const unacked = newMessageId();
  alice.send({ type: 'send', id: unacked, to: 'bob', kind: 'message', body: 'b64-unacked' });
  await bob.waitFor<DeliverFrame>((f) => f.type === 'deliver' && f.id === unacked);
  // To an offline recipient: pending until it expires.
  const offline = newMessageId();
  alice.send({ type: 'send', id: offline, to: 'carol', kind: 'message', body: 'b64-offline' });
  await alice.waitFor((f) => f.type === 'accepted' && f.id === offline);
  // The api: health and a refused request.
  await fetch(`${api.url}/readyz`);
  await fetch(`${api.url}/v1/sessions`, { method: 'POST', body: '{}' }).catch(() => undefined);

  await eventually(
    async () => (await metricValue(engine.url, 'gossip_engine_messages_redelivered_total')) > 0,
    'a redelivery',
  );
  await eventually(
    async () => (await metricValue(engine.url, 'gossip_engine_messages_expired_total')) > 0,
    'an expiry',
    30_000,
  );
  await eventually(
    async () =>
      (await metricValue(`http://127.0.0.1:${operatorPort}`, 'gossip_operator_reconcile_total')) >
      0,
    'a reconcile',
    30_000,
  );
  // Prometheus has seen the traffic (2s scrape interval), then a few more scrapes.
  await eventually(
    async () =>
      (await promQuery(`increase(gossip_engine_messages_acked_total{namespace="${ns}"}[1m]) > 0`))
        .length > 0,
    'Prometheus to see the acks',
    30_000,
  );
  await sleep(5000);
});

after(async () => {
  rmSync(targetsFile, { force: true });
  for (const c of clients) await c.close().catch(() => undefined);
  await operator?.stop(10_000);
  helm(['uninstall', 'gossip', '-n', ns], { allowFailure: true });
  kubectl(['delete', 'namespace', ns, '--wait=false'], { allowFailure: true });
  await stack.close();
});

test('the operator runs with the chart RBAC without a forbidden error', () => {
  assert.ok(operator);
  assert.doesNotMatch(operator.output(), /forbidden/i);
});

test("the dashboards' namespace and cluster variables list this stack", async () => {
  const label = async (name: string, match: string): Promise<string[]> => {
    const url = `${env.prometheusUrl}/api/v1/label/${name}/values?match[]=${encodeURIComponent(match)}`;
    return ((await (await fetch(url)).json()) as { data: string[] }).data;
  };
  assert.ok((await label('namespace', 'up{component=~"api|gateway|engine"}')).includes(ns));
  assert.ok(
    (await label('cluster', `up{component=~"api|gateway|engine", namespace=~"${ns}"}`)).includes(
      cluster,
    ),
  );
});

test('every panel query of every dashboard returns data from Prometheus', async () => {
  const vars = { namespace: ns, cluster, operator: `127.0.0.1:${operatorPort}` };
  const empty: string[] = [];
  let queries = 0;
  for (const [file, d] of loadDashboards()) {
    for (const p of dataPanels(d)) {
      for (const t of p.targets ?? []) {
        const expr = substitute(t.expr ?? '', vars);
        queries++;
        const result = await promQuery(expr);
        const numbers = result.filter((r) => !Number.isNaN(Number(r.value[1])));
        if (numbers.length === 0) {
          empty.push(`${file} / ${p.title} / ${t.refId}: ${expr}${result.length ? ' (NaN)' : ''}`);
        }
      }
    }
  }
  assert.ok(queries > 40);
  assert.deepEqual(empty, [], `panels without data:\n${empty.join('\n')}`);
});

test('every metric the alert rules use is exported by the running stack', async () => {
  const rules = readFileSync(join(chartDir, 'files/alerts.yaml'), 'utf8')
    .split('\n')
    .filter((l) => !l.trim().startsWith('#'))
    .join('\n');
  const names = [...new Set(rules.match(/\bgossip_\w+/g) ?? [])]
    .map((n) => n.replace(/_bucket$/, ''))
    .sort();
  const missing: string[] = [];
  for (const name of names) {
    const series = await promQuery(`count({__name__=~"${name}(_bucket)?"})`);
    if (series.length === 0) missing.push(name);
  }
  assert.ok(names.length > 10);
  assert.deepEqual(missing, [], `alerts use metrics nobody exports: ${missing.join(', ')}`);
});
