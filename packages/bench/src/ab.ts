/**
 * `npx tsx packages/bench/src/ab.ts <file>[,<file>...] <git-rev> [rounds]`: an interleaved
 * A/B of one or more source files on the throughput scenario's cases. Against one set of
 * servers (see servers.ts: private by default, BENCH_SERVERS=testenv), each round runs every
 * case twice, once with the files as they are at `<git-rev>` ("before") and once as they are
 * in the working tree ("after"), in the order A B then B A in the next round, so that a
 * drift in the machine's load hits both alike. The services are started per case from this
 * checkout, so the swapped files are what they run; the working tree's files are put back
 * after every case and on exit. Every named file must differ between the two. Cases: the throughput scenario's (BENCH_THROUGHPUT_MESSAGES;
 * BENCH_AB_CASES picks some by name, for example `1e/1g/10p,2e/1g/50p`). Prints a table and
 * writes bench/results/ab-<BENCH_AB_TAG>.json when that is set. It reports; it never fails
 * on a figure.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { repoRoot } from '@gossip/testenv';
import { resultsDir, round } from './report.js';
import type { BenchContext } from './scenario.js';
import { caseName, runThroughputCase, throughputCases } from './scenarios/throughput.js';
import { benchServers } from './servers.js';
import { workProbe, workTotals, type Counts } from './work-counters.js';

const say = (line: string): void => {
  process.stderr.write(`[ab] ${line}\n`);
};

async function main(): Promise<void> {
  const [file, rev, roundsArg] = process.argv.slice(2);
  if (!file || !rev) throw new Error('usage: ab.ts <file>[,<file>...] <git-rev> [rounds]');
  const rounds = Number(roundsArg ?? 2);
  const files = file.split(',').map((f) => {
    const path = join(repoRoot, f);
    const after = readFileSync(path, 'utf8');
    const before = execFileSync('git', ['show', `${rev}:${f}`], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    if (before === after) throw new Error(`${f} is the same at ${rev} and in the tree`);
    return { path, before, after };
  });
  const put = (variant: 'before' | 'after'): void => {
    for (const f of files) writeFileSync(f.path, f[variant]);
  };
  const restore = (): void => put('after');
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      restore();
      process.exit(130);
    });
  }
  const wanted = process.env.BENCH_AB_CASES?.split(',');
  const cases = throughputCases(false).filter((c) => !wanted || wanted.includes(caseName(c)));
  const backing = await benchServers(process.env, say);
  const redis = new Redis(backing.servers.redisUrl);
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
          put(variant);
          const load = loadavg().map(round);
          try {
            const probe = workProbe(backing, redis);
            const res = await runThroughputCase(ctx, c, probe);
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
              workPerMessage: probe.perMessage(c.pairs * c.messages),
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
    redis.disconnect();
    await backing.stop();
  }
  const lines = [
    '| round | case | variant | load 1 min | accepted/s | delivered/s | acked+deleted/s | lost | CPU-ms/msg store / engine / all measured | per msg: publishes / Redis commands / store commands |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((x) => {
      const p = x.perSecond as Record<string, number | null>;
      const cpu = x.cpuMsPerMessage as Record<string, number>;
      const w = workTotals(x.workPerMessage as Record<string, Counts>);
      return `| ${String(x.round)} | ${String(x.case)} | ${String(x.variant)} | ${(x.loadAverage as number[])[0]} | ${p.accepted} | ${p.delivered} | ${p.ackedAndDeleted ?? 'not all'} | ${String(x.lost)} | ${cpu.store} / ${cpu.engine} / ${cpu.total} | ${w.publishes} / ${w.redis} / ${w.store} |`;
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
