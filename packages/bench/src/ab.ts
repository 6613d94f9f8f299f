/**
 * `npx tsx packages/bench/src/ab.ts <file> <git-rev> [rounds]`: an interleaved A/B of one
 * source file on the throughput scenario's cases. Against one set of servers (see
 * servers.ts: private by default, BENCH_SERVERS=testenv), each round runs every case
 * twice, once with `<file>` as it is at `<git-rev>` ("before") and once as it is in the
 * working tree ("after"), in the order A B then B A in the next round, so that a drift in
 * the machine's load hits both alike. The services are started per case from this
 * checkout, so the swapped file is what they run; the working tree's file is put back
 * after every case and on exit. Cases: the throughput scenario's (BENCH_THROUGHPUT_MESSAGES;
 * BENCH_AB_CASES picks some by name, for example `1e/1g/10p,2e/1g/50p`). Prints a table and
 * writes bench/results/ab-<BENCH_AB_TAG>.json when that is set. It reports; it never fails
 * on a figure.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@gossip/testenv';
import { resultsDir, round } from './report.js';
import type { BenchContext } from './scenario.js';
import { caseName, runThroughputCase, throughputCases } from './scenarios/throughput.js';
import { benchServers } from './servers.js';

const say = (line: string): void => {
  process.stderr.write(`[ab] ${line}\n`);
};

async function main(): Promise<void> {
  const [file, rev, roundsArg] = process.argv.slice(2);
  if (!file || !rev) throw new Error('usage: ab.ts <file> <git-rev> [rounds]');
  const rounds = Number(roundsArg ?? 2);
  const path = join(repoRoot, file);
  const after = readFileSync(path, 'utf8');
  const before = execFileSync('git', ['show', `${rev}:${file}`], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  if (before === after) throw new Error(`${file} is the same at ${rev} and in the tree`);
  const restore = (): void => writeFileSync(path, after);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      restore();
      process.exit(130);
    });
  }
  const wanted = process.env.BENCH_AB_CASES?.split(',');
  const cases = throughputCases(false).filter((c) => !wanted || wanted.includes(caseName(c)));
  const backing = await benchServers(process.env, say);
  const ctx: BenchContext = {
    targets: () => backing.targets(),
    servers: backing.servers,
    say,
    quick: false,
  };
  const rows: Record<string, unknown>[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const);
      for (const c of cases) {
        for (const variant of order) {
          writeFileSync(path, variant === 'before' ? before : after);
          const load = loadavg().map(round);
          try {
            const res = await runThroughputCase(ctx, c);
            const row = {
              round: r + 1,
              case: caseName(c),
              variant,
              loadAverage: load,
              perSecond: res.perSecond,
              lost: res.lost,
              leftInStore: res.leftInStore,
              sendToDeliverMs: res.latencyMs.sendToDeliver,
              cpuPercent: res.cpuPercent,
              cpuMsPerMessage: res.cpuMsPerMessage,
            };
            say(JSON.stringify(row));
            rows.push(row);
          } finally {
            restore();
          }
        }
      }
    }
  } finally {
    restore();
    await backing.stop();
  }
  const lines = [
    '| round | case | variant | load 1 min | accepted/s | delivered/s | acked+deleted/s | lost | CPU-ms/msg store / engine / all measured |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((x) => {
      const p = x.perSecond as Record<string, number | null>;
      const cpu = x.cpuMsPerMessage as Record<string, number>;
      return `| ${String(x.round)} | ${String(x.case)} | ${String(x.variant)} | ${(x.loadAverage as number[])[0]} | ${p.accepted} | ${p.delivered} | ${p.ackedAndDeleted ?? 'not all'} | ${String(x.lost)} | ${cpu.store} / ${cpu.engine} / ${cpu.total} |`;
    }),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const tag = process.env.BENCH_AB_TAG;
  if (tag) {
    const out = join(resultsDir, `ab-${tag}.json`);
    writeFileSync(
      out,
      `${JSON.stringify({ file, rev, at: new Date().toISOString(), rows }, null, 2)}\n`,
    );
    say(`wrote ${out}`);
  }
}

main().catch((err: unknown) => {
  say(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
