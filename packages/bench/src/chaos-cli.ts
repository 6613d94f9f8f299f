/**
 * `npm run chaos`: the long resilience run. Starts private RabbitMQ, Redis and FerretDB
 * under .bench/chaos, two engines, two gateways and the api, keeps CHAOS_PAIRS
 * sender/recipient pairs of real SDK clients (`@gossip/client`'s Messenger, end-to-end
 * encrypted) sending CHAOS_RATE messages per second in total, and kills -9 and
 * restarts each component in turn, CHAOS_ROUNDS times over. Writes
 * bench/results/chaos.json, prints a markdown table, and exits non-zero if any accepted
 * message was lost, shown twice, or left in MongoDB after its ack: a correctness check,
 * not a timing one.
 *
 * Other knobs: CHAOS_DOWN_MS (how long a killed server stays down, 5000),
 * CHAOS_SETTLE_MS (max wait after each restart, 60000), CHAOS_REDELIVERY_SECONDS (30, the
 * engine default), CHAOS_FAULTS (comma-separated subset of engine,gateway,api,rabbitmq,
 * redis,store).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '@gossip/testenv';
import { chaosTable, FAULTS, runChaos, type Fault } from './chaos.js';
import { machine, machineLine, writeResult } from './report.js';

const say = (line: string): void => {
  process.stderr.write(`[chaos] ${line}\n`);
};

function int(name: string, def: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number`);
  return n;
}

/** The commit the services ran from, and any uncommitted change to them (a shared tree). */
function codeState(): { commit: string; uncommitted: string[] } {
  const git = (...args: string[]): string =>
    execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim();
  try {
    return {
      commit: git('rev-parse', 'HEAD'),
      uncommitted: git('status', '--short', '--', 'services', 'packages')
        .split('\n')
        .filter(Boolean),
    };
  } catch {
    return { commit: 'unknown', uncommitted: [] };
  }
}

async function main(): Promise<void> {
  const code = codeState();
  const faults = (process.env.CHAOS_FAULTS ?? FAULTS.join(','))
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  const bad = faults.filter((f) => !(FAULTS as readonly string[]).includes(f));
  if (bad.length > 0)
    throw new Error(`unknown fault ${bad.join(', ')}; known: ${FAULTS.join(', ')}`);

  const r = await runChaos({
    dir: join(repoRoot, '.bench', 'chaos'),
    pairs: int('CHAOS_PAIRS', 20),
    rate: int('CHAOS_RATE', 100),
    rounds: int('CHAOS_ROUNDS', 2),
    faults: faults as Fault[],
    warmMs: 10_000,
    downMs: int('CHAOS_DOWN_MS', 5000),
    settleMinMs: 10_000,
    settleMaxMs: int('CHAOS_SETTLE_MS', 60_000),
    finalSettleMs: 180_000,
    redeliverySeconds: int('CHAOS_REDELIVERY_SECONDS', 30),
    say,
  });
  const m = machine(r.servers);
  const t = r.total;
  const verdict =
    t.lost === 0 && t.dupShown === 0 && r.leftInStore === 0 && r.settled
      ? 'nothing lost, nothing shown twice, nothing left in MongoDB'
      : `FAILED: ${t.lost} lost, ${t.dupShown} shown twice, ${r.leftInStore} left in MongoDB` +
        (r.settled ? '' : ', did not settle');
  const markdown = [
    chaosTable(r),
    '',
    `${r.config.pairs} pairs, ${r.config.rate} msg/s offered (open loop), ${r.config.rounds} ` +
      `round(s); servers down ${r.config.downMs / 1000} s per kill; engine redelivery ` +
      `${r.config.redeliverySeconds} s. Messages left in MongoDB after the acks: ` +
      `${r.leftInStore}. Deliveries after the sender's receipt: ${r.deliveredAfterReceipt}. ` +
      `Run took ${Math.round(r.durationMs / 1000)} s. ${verdict}.`,
  ].join('\n');
  const file = writeResult('chaos', m, { data: { ...r, code }, markdown });
  say(machineLine(m));
  say(`results: ${file}`);
  process.stdout.write(`\n## Resilience (npm run chaos)\n\n${markdown}\n`);
  if (t.lost > 0 || t.dupShown > 0 || r.leftInStore !== 0 || !r.settled) process.exitCode = 1;
}

main().catch((err: unknown) => {
  say(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
