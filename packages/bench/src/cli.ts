/**
 * `npm run bench [-- SCENARIO...]`: starts private RabbitMQ, Redis and FerretDB under
 * .bench/ (or uses the test env's with BENCH_SERVERS=testenv, see servers.ts), runs each
 * scenario against services started for it, and writes
 * bench/results/<scenario>.json plus bench/results/summary.md. It reports figures; it
 * never fails on them. BENCH_QUICK=1 shrinks every scenario for a quick try.
 */
import { machine, machineLine, writeResult, writeSummary } from './report.js';
import type { BenchContext, Scenario } from './scenario.js';
import { scenarios } from './scenarios/index.js';
import { benchServers } from './servers.js';

const say = (line: string): void => {
  process.stderr.write(`[bench] ${line}\n`);
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = wanted.filter((w) => !scenarios.some((s) => s.name === w));
  if (unknown.length > 0) {
    throw new Error(
      `unknown scenario ${unknown.join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}`,
    );
  }
  const chosen: Scenario[] =
    wanted.length > 0 ? scenarios.filter((s) => wanted.includes(s.name)) : scenarios;
  const backing = await benchServers(process.env, say);
  // Private servers run detached (so a kill -9 of one is a real crash): stop them on
  // Ctrl-C too. The services are this process's children and get the terminal's signal.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      say(`${sig}: stopping the servers`);
      void backing.stop().finally(() => process.exit(130));
    });
  }
  try {
    const m = machine(await backing.versions(), backing.origin);
    say(machineLine(m));
    const ctx: BenchContext = {
      targets: () => backing.targets(),
      servers: backing.servers,
      say,
      quick: process.env.BENCH_QUICK === '1',
    };
    for (const s of chosen) {
      say(`— ${s.title}`);
      const t0 = Date.now();
      const r = await s.run(ctx);
      const file = writeResult(s.name, m, r, ctx.quick);
      say(`  done in ${Math.round((Date.now() - t0) / 1000)} s; ${file}`);
      process.stdout.write(`\n## ${s.title}\n\n${r.markdown}\n`);
    }
    say(`summary: ${writeSummary(scenarios)}`);
  } finally {
    await backing.stop();
  }
}

main().catch((err: unknown) => {
  say(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
