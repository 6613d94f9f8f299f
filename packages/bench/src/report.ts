/**
 * What every benchmark figure is reported with (the machine and the servers' versions),
 * percentiles, and the files a run writes: bench/results/<scenario>.json and one markdown
 * table per run, bench/results/summary.md.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, type BackingVersions } from '@gossip/testenv';

export const resultsDir = join(repoRoot, 'bench', 'results');

export interface Machine {
  cores: number;
  cpu: string;
  memoryGiB: number;
  node: string;
  servers: BackingVersions;
  /** The bench's own servers, or the test env's (shared with whatever else uses it). */
  serversFrom?: 'private' | 'testenv';
  /** The 1, 5 and 15 minute load averages when the run started (what else was running). */
  loadAverage?: number[];
  /** ISO time the run started. */
  at: string;
}

export function machine(
  servers: BackingVersions,
  serversFrom: 'private' | 'testenv' = 'private',
): Machine {
  const c = cpus();
  return {
    cores: c.length,
    cpu: c[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    servers,
    serversFrom,
    loadAverage: loadavg().map(round),
    at: new Date().toISOString(),
  };
}

/** Rounded to two decimals (seconds, rates). */
export const round = (x: number): number => Math.round(x * 100) / 100;

export interface Percentiles {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles, rounded to 0.1 (milliseconds, usually). */
export function percentiles(values: readonly number[]): Percentiles {
  const s = [...values].sort((a, b) => a - b);
  const at = (p: number): number =>
    s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
  const r = (x: number): number => Math.round(x * 10) / 10;
  return { n: s.length, p50: r(at(50)), p90: r(at(90)), p99: r(at(99)), max: r(s.at(-1) ?? NaN) };
}

/** A markdown table from a header and rows. */
export function table(header: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const line = (cells: readonly unknown[]): string => `| ${cells.map(String).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export interface ScenarioResult {
  /** Everything measured, as written to bench/results/<name>.json. */
  data: unknown;
  /** The scenario's section of summary.md: a table and a line on what limited it. */
  markdown: string;
}

export function writeResult(name: string, m: Machine, r: ScenarioResult, quick = false): string {
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${name}.json`);
  const doc = { scenario: name, machine: m, quick, markdown: r.markdown, ...toObject(r.data) };
  writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
  return file;
}

function toObject(data: unknown): Record<string, unknown> {
  return typeof data === 'object' && data !== null && !Array.isArray(data)
    ? (data as Record<string, unknown>)
    : { data };
}

export function machineLine(m: Machine): string {
  return (
    `${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, Node ${m.node}; ` +
    `${m.servers.rabbitmq}, ${m.servers.redis}, ${m.servers.store}` +
    (m.serversFrom === 'testenv' ? " (the test env's, shared)" : '') +
    (m.loadAverage ? `; load average ${m.loadAverage.join(' / ')} at the start` : '') +
    `; run at ${m.at}`
  );
}

/**
 * Rewrites summary.md from every scenario's latest results file (a run of some scenarios
 * keeps the others' last figures, each with its own machine line).
 */
export function writeSummary(order: readonly { name: string; title: string }[]): string {
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, 'summary.md');
  const sections = order.flatMap((s) => {
    const f = join(resultsDir, `${s.name}.json`);
    if (!existsSync(f)) return [];
    const doc = JSON.parse(readFileSync(f, 'utf8')) as {
      machine: Machine;
      markdown: string;
      quick?: boolean;
    };
    const quick = doc.quick ? ' **BENCH_QUICK run: reduced sizes, not figures to report.**' : '';
    return [
      `## ${s.title}`,
      '',
      `Measured on ${machineLine(doc.machine)}.${quick}`,
      '',
      doc.markdown,
      '',
    ];
  });
  const body = [
    '# Benchmark results',
    '',
    'Written by `npm run bench` from the JSON files beside it; see docs/benchmarks.md for how to read them.',
    '',
    ...sections,
  ].join('\n');
  writeFileSync(file, body);
  return file;
}
