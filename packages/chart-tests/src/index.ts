/**
 * Helpers for the tests of the Helm chart, images, skaffold config, alerts and dashboards:
 * where those files are, running the real helm/kubectl/promtool binaries, and reading the
 * dashboards' panel queries.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startProcess, testEnv, type ManagedProcess } from '@gossip/testenv';
import { parse, parseAllDocuments, stringify } from 'yaml';

/** The repository root, found from this file's place in it. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const chartDir = join(repoRoot, 'charts/gossip');

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string>;
  input?: string;
  cwd?: string;
  /** Resolve instead of throwing on a non-zero exit. */
  allowFailure?: boolean;
  timeoutMs?: number;
}

/** Runs a command to completion; throws with its output when it fails (unless allowed). */
export function run(command: string, args: string[], opts: RunOptions = {}): RunResult {
  const res = spawnSync(command, args, {
    cwd: opts.cwd ?? repoRoot,
    env: { ...process.env, ...opts.env },
    input: opts.input,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: opts.timeoutMs ?? 120_000,
  });
  if (res.error)
    throw new Error(`${command} ${args.join(' ')} failed to run`, { cause: res.error });
  const out: RunResult = { status: res.status, stdout: res.stdout, stderr: res.stderr };
  if (!opts.allowFailure && res.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} exited with ${res.status}\n--- stdout\n${res.stdout}\n--- stderr\n${res.stderr}`,
    );
  }
  return out;
}

/** Runs the test environment's helm with its config kept inside the run's folder. */
export function helm(args: string[], opts: RunOptions = {}): RunResult {
  const env = testEnv();
  return run(env.bin.helm, args, { ...opts, env: { ...env.helmEnv, ...opts.env } });
}

/** Runs the test environment's kubectl against its control plane. */
export function kubectl(args: string[], opts: RunOptions = {}): RunResult {
  const env = testEnv();
  return run(env.bin.kubectl, ['--kubeconfig', env.kubeconfig, ...args], opts);
}

/** A Kubernetes object as rendered, loosely typed. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

/** Parses a multi-document YAML stream into its non-empty documents. */
export function parseManifests(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors[0]?.message}`);
      return doc.toJS() as KubeObject | null;
    })
    .filter((o): o is KubeObject => o !== null && typeof o === 'object');
}

/** `helm template` of the chart with extra arguments; returns the text and its objects. */
export function renderChart(args: string[] = []): { text: string; objects: KubeObject[] } {
  const text = helm(['template', 'gossip', chartDir, ...args]).stdout;
  return { text, objects: parseManifests(text) };
}

/** A Grafana dashboard as far as these tests read it. */
export interface Dashboard {
  title: string;
  uid: string;
  templating: { list: { name: string; type: string; query?: unknown }[] };
  panels: Panel[];
}

export interface Panel {
  id: number;
  title: string;
  type: string;
  targets?: { expr?: string; refId?: string }[];
  panels?: Panel[];
}

export const dashboardsDir = join(chartDir, 'dashboards');

/** Every dashboard JSON of the chart, by file name. */
export function loadDashboards(): Map<string, Dashboard> {
  const out = new Map<string, Dashboard>();
  for (const f of readdirSync(dashboardsDir)
    .filter((n) => n.endsWith('.json'))
    .sort()) {
    out.set(f, JSON.parse(readFileSync(join(dashboardsDir, f), 'utf8')) as Dashboard);
  }
  return out;
}

/** Panels of a dashboard including those nested in collapsed rows; rows themselves excluded. */
export function dataPanels(d: Dashboard): Panel[] {
  const out: Panel[] = [];
  const walk = (ps: Panel[]): void => {
    for (const p of ps) {
      if (p.type === 'row') walk(p.panels ?? []);
      else out.push(p);
    }
  };
  walk(d.panels);
  return out;
}

/**
 * Substitutes Grafana variables in a query: `$name`, `${name}` and `[[name]]`, plus the
 * built-ins `$__rate_interval`, `$__interval` and `$__range`.
 */
export function substitute(expr: string, vars: Record<string, string>): string {
  const all: Record<string, string> = {
    __rate_interval: '1m',
    __interval: '15s',
    __range: '5m',
    ...vars,
  };
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]/g, (m, a, b, c) => {
    const name = (a ?? b ?? c) as string;
    const v = all[name];
    if (v === undefined) throw new Error(`unknown variable ${m} in ${expr}`);
    return v;
  });
}

/**
 * Writes a kubeconfig for the test control plane that authenticates as ServiceAccount `sa` of
 * `namespace` (a fresh one-hour token), so a process using it holds exactly that account's RBAC.
 * Returns `file`.
 */
export function serviceAccountKubeconfig(namespace: string, sa: string, file: string): string {
  const token = kubectl(['-n', namespace, 'create', 'token', sa, '--duration=1h']).stdout.trim();
  const admin = parse(readFileSync(testEnv().kubeconfig, 'utf8')) as {
    clusters: { name: string; cluster: Record<string, string> }[];
  };
  const c = admin.clusters[0];
  if (!c) throw new Error('the test kubeconfig has no cluster');
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster: c.cluster }],
      users: [{ name: sa, user: { token } }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: sa, namespace } }],
      'current-context': 'test',
    }),
    { mode: 0o600 },
  );
  return file;
}

export interface ChartOperator {
  operator: ManagedProcess;
  /** Its metrics and probes port on 127.0.0.1. */
  port: number;
  /** The ServiceAccount kubeconfig it runs with. */
  kubeconfig: string;
}

/**
 * The operator as a real process with a token of the chart's ServiceAccount `gossip-operator`
 * in `namespace` (so exactly the RBAC the chart gave it), watching and leasing in that
 * namespace as the chart's Deployment does, its metrics on a free loopback port, its
 * kubeconfig and log in `scratch`. `env` adds or overrides `OPERATOR_*` variables. Resolves
 * once `/readyz` answers.
 */
export async function startChartOperator(o: {
  namespace: string;
  identity: string;
  scratch: string;
  env?: Record<string, string>;
}): Promise<ChartOperator> {
  const kubeconfig = serviceAccountKubeconfig(
    o.namespace,
    'gossip-operator',
    join(o.scratch, 'operator.kubeconfig'),
  );
  const port = await freePort();
  const operator = await startProcess({
    command: process.execPath,
    args: ['--import', 'tsx', 'operator/src/main.ts'],
    cwd: repoRoot,
    cleanEnv: true,
    env: {
      OPERATOR_KUBECONFIG: kubeconfig,
      // What the chart's Deployment sets by default: the release namespace.
      OPERATOR_WATCH_NAMESPACE: o.namespace,
      OPERATOR_LEASE_NAMESPACE: o.namespace,
      OPERATOR_LEASE_NAME: 'gossip-operator',
      OPERATOR_IDENTITY: o.identity,
      OPERATOR_METRICS_PORT: String(port),
      OPERATOR_METRICS_HOST: '127.0.0.1',
      OPERATOR_LOG_LEVEL: 'info',
      ...o.env,
    },
    readyUrl: `http://127.0.0.1:${port}/readyz`,
    readyTimeoutMs: 60_000,
    logFile: join(o.scratch, 'operator.log'),
  });
  return { operator, port, kubeconfig };
}
