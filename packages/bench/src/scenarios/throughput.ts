/**
 * End-to-end throughput: N senders and N recipients push as much as the system takes
 * (closed loop), recipients ack every delivery, and the run ends when every message was
 * accepted, delivered, acked and deleted from the store. Once with one engine, once with
 * several; CPU of every process is measured over the run to show what limited it.
 */
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { COLLECTIONS } from '@gossip/protocol';
import { ServiceStack, type ApiVars, type EngineVars, type GatewayVars } from '@gossip/testenv';
import type { Collection } from 'mongodb';
import { makePairs, runLoad, type LoadRun } from '../load.js';
import { busiest, cpuMeter, cpuMsPerMessage, type Target } from '../procstat.js';
import { percentiles, round, table } from '../report.js';
import type { BenchContext, Scenario } from '../scenario.js';

export interface ThroughputCase {
  engines: number;
  gateways: number;
  pairs: number;
  messages: number;
  window: number;
  bodyBytes: number;
}

export const QUIET_ENGINE: EngineVars = { ENGINE_LOG_LEVEL: 'warn' };
/** The load registers every user through the api: 100 of them outrun its per-address cap. */
export const QUIET_API: ApiVars = { API_LOG_LEVEL: 'warn', API_REGISTER_MAX_PER_IP: '100000' };
export const QUIET_GATEWAY: GatewayVars = {
  GATEWAY_LOG_LEVEL: 'warn',
  GATEWAY_RATE_PER_SECOND: '100000',
  GATEWAY_RATE_BURST: '100000',
};

/**
 * BENCH_PROFILE_DIR=/some/dir: engines and gateways write V8 CPU profiles there when they
 * stop (`node --cpu-prof`), to open in Chrome DevTools or speedscope.
 */
function profiling(): string[] {
  const dir = process.env.BENCH_PROFILE_DIR;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

/** Starts a fresh stack for one case: its own database, queues and keys. */
export async function startStack(
  ctx: BenchContext,
  name: string,
  engines: number,
  gateways: number,
) {
  const stack = new ServiceStack(name, ctx.servers);
  stack.nodeArgs = profiling();
  const cpu: Record<string, Target> = ctx.targets();
  /** Each engine's and gateway's `/metrics` base URL, by the same names as `cpu`. */
  const metricsUrls: Record<string, string> = {};
  // The load registers its users through the api (the SDK's keys); idle during the run.
  const api = await stack.startApi(QUIET_API);
  cpu.api = { pid: api.proc.pid };
  for (let i = 0; i < engines; i++) {
    const e = await stack.startEngine(QUIET_ENGINE, `engine-${i}`);
    const name = `engine${engines > 1 ? `-${i}` : ''}`;
    cpu[name] = { pid: e.proc.pid };
    metricsUrls[name] = e.metricsUrl;
  }
  const urls: string[] = [];
  for (let i = 0; i < gateways; i++) {
    const g = await stack.startGateway(QUIET_GATEWAY);
    const name = `gateway${gateways > 1 ? `-${i}` : ''}`;
    cpu[name] = { pid: g.proc.pid };
    metricsUrls[name] = g.metricsUrl;
    urls.push(g.wsUrl);
  }
  return { stack, cpu, metricsUrls, urls, apiUrl: api.url };
}

/**
 * Reads counters around the measured part of a case (see work.ts): `before` once the pairs
 * are registered, `after` once every message is deleted, both with the stack still up.
 */
export interface CaseProbe {
  before(metricsUrls: Record<string, string>): Promise<void>;
  after(): Promise<void>;
}

export async function runThroughputCase(ctx: BenchContext, c: ThroughputCase, probe?: CaseProbe) {
  const { stack, cpu, metricsUrls, urls, apiUrl } = await startStack(
    ctx,
    'bench-tp',
    c.engines,
    c.gateways,
  );
  try {
    const users = await makePairs(apiUrl, c.pairs);
    ctx.say(`  ${c.pairs} pairs registered through the api`);
    await probe?.before(metricsUrls);
    // From the first measured message, so connects, v2 session set-up and the warm-up
    // (the SDK's X3DH, prekey claims through the api) are not spread over the messages.
    let meter: ReturnType<typeof cpuMeter> | undefined;
    let m0 = 0;
    const startMeter = (): void => {
      meter = cpuMeter(cpu);
      m0 = performance.now();
    };
    const run = await runLoad(
      {
        gateways: urls,
        pairs: c.pairs,
        messages: c.messages,
        window: c.window,
        bodyBytes: c.bodyBytes,
        say: ctx.say,
        onMeasuring: startMeter,
      },
      users,
    );
    // Acked means deleted: wait for the store to be empty of this run's messages.
    const messages = stack.db.collection(COLLECTIONS.messages);
    let left = await messages.countDocuments({});
    const deadline = Date.now() + 120_000;
    while (left > 0 && Date.now() < deadline) {
      await sleep(50);
      left = await messages.countDocuments({});
    }
    const deletedSeconds = (performance.now() - run.t0) / 1000;
    // What stayed stored, so a case that leaves messages behind says which and how far
    // each got (the load's own view: shown by the recipient, its ack written).
    const leftBehind = left === 0 ? [] : await describeLeft(messages, run);
    for (const d of leftBehind) ctx.say(`  left in the store: ${JSON.stringify(d)}`);
    if (!meter) throw new Error('the load ended before its measured part began');
    const cpuPct = meter.stop();
    const meterSeconds = (performance.now() - m0) / 1000;
    await probe?.after();
    const n = c.pairs * c.messages;
    const lost = run.accepted - run.delivered;
    return {
      case: c,
      sent: run.sent,
      accepted: run.accepted,
      delivered: run.delivered,
      duplicatesOnWire: run.duplicates,
      leftInStore: left,
      leftBehind,
      lost,
      errors: run.errors,
      perSecond: {
        accepted: Math.round(run.accepted / run.acceptSeconds),
        delivered: Math.round(run.delivered / run.deliverSeconds),
        ackedAndDeleted: left === 0 ? Math.round(n / deletedSeconds) : null,
      },
      seconds: {
        accept: round(run.acceptSeconds),
        deliver: round(run.deliverSeconds),
        deleted: round(deletedSeconds),
      },
      latencyMs: {
        sendToAccepted: percentiles(run.toAccepted),
        sendToDeliver: percentiles(run.toDeliver),
      },
      cpuPercent: cpuPct,
      /** CPU-ms per message of each process from the first measured message to the last delete. */
      cpuMsPerMessage: cpuMsPerMessage(cpuPct, meterSeconds, n),
      limitedBy: busiest(cpuPct),
    };
  } finally {
    await stack.close();
  }
}

/**
 * The end-to-end cases, the same in the throughput and the ceilings scenarios:
 * `BENCH_THROUGHPUT_MESSAGES` (default 400, quick 50) per pair with 10 pairs, a fifth of
 * it with 50 pairs.
 */
export function throughputCases(quick: boolean): ThroughputCase[] {
  const m = Number(process.env.BENCH_THROUGHPUT_MESSAGES ?? (quick ? 50 : 400));
  if (!Number.isInteger(m / 5) || m <= 0) {
    throw new Error(`BENCH_THROUGHPUT_MESSAGES must be a positive multiple of 5, not ${m}`);
  }
  return [
    { engines: 1, gateways: 1, pairs: 10, messages: m, window: 32, bodyBytes: 256 },
    { engines: 1, gateways: 1, pairs: 50, messages: m / 5, window: 16, bodyBytes: 256 },
    { engines: 2, gateways: 1, pairs: 50, messages: m / 5, window: 16, bodyBytes: 256 },
    { engines: 2, gateways: 2, pairs: 50, messages: m / 5, window: 16, bodyBytes: 256 },
  ];
}

export type ThroughputResult = Awaited<ReturnType<typeof runThroughputCase>>;

/** Runs each case in turn on a fresh stack, saying each result. */
export async function runThroughputCases(
  ctx: BenchContext,
  cases: readonly ThroughputCase[],
): Promise<ThroughputResult[]> {
  const results = [];
  for (const c of cases) {
    ctx.say(`  ${JSON.stringify(c)}`);
    const r = await runThroughputCase(ctx, c);
    ctx.say(
      `  -> ${JSON.stringify(r.perSecond)} lost ${r.lost}; errors ${JSON.stringify(r.errors)}; ` +
        `cpu ${JSON.stringify(r.cpuPercent)}`,
    );
    results.push(r);
  }
  return results;
}

/** A case's short name in tables: `1e/1g/10p`. */
export const caseName = (c: ThroughputCase): string => `${c.engines}e/${c.gateways}g/${c.pairs}p`;

/** The results table, and each process's CPU (% of one core, and ms per message). */
export function throughputMarkdown(results: readonly ThroughputResult[]): string {
  return [
    table(
      [
        'engines',
        'gateways',
        'pairs × messages (window)',
        'accepted/s',
        'delivered/s',
        'acked+deleted/s',
        'lost',
        'dup on wire',
        'send→deliver p50 / p99 ms',
        'busiest process (CPU % of one core)',
      ],
      results.map((r) => [
        r.case.engines,
        r.case.gateways,
        `${r.case.pairs} × ${r.case.messages} (${r.case.window})`,
        r.perSecond.accepted,
        r.perSecond.delivered,
        r.perSecond.ackedAndDeleted ?? `not all deleted (${r.leftInStore} left)`,
        r.lost,
        r.duplicatesOnWire,
        `${r.latencyMs.sendToDeliver.p50} / ${r.latencyMs.sendToDeliver.p99}`,
        r.limitedBy,
      ]),
    ),
    '',
    'CPU of every process from the first measured message to the last delete (connects, ' +
      'v2 session set-up and warm-up left out; percent of one core; the machine has ' +
      `${cpus().length} cores; \`other\` is everything else that ran meanwhile):`,
    '',
    cpuTable(results.map((r) => [caseName(r.case), r.cpuPercent])),
    '',
    'CPU-ms per message of every process over the same part (`total` leaves `other` out):',
    '',
    cpuTable(results.map((r) => [caseName(r.case), r.cpuMsPerMessage])),
  ].join('\n');
}

export const throughput: Scenario = {
  name: 'throughput',
  title: 'End-to-end throughput (accepted, delivered, acked and deleted)',
  async run(ctx) {
    const results = await runThroughputCases(ctx, throughputCases(ctx.quick));
    return { data: { results }, markdown: throughputMarkdown(results) };
  },
};

/** One row per case, one column per process seen in any case. */
export function cpuTable(rows: [string, Record<string, number>][]): string {
  const cols = [...new Set(rows.flatMap(([, cpu]) => Object.keys(cpu)))];
  return table(
    ['case', ...cols],
    rows.map(([name, cpu]) => [name, ...cols.map((c) => cpu[c] ?? '')]),
  );
}

/** The fields of a stored message (packages/store's MessageDoc) a left-behind line shows. */
interface LeftDoc {
  _id: string;
  kind: string;
  from: string;
  to: string;
  sentAt: Date;
  attempts: number;
  deliveredAt: Date | null;
  dueAt: Date | null;
}

/** Up to ten of the messages still stored after a case, without their bodies. */
async function describeLeft(messages: Collection, run: LoadRun) {
  const docs = await messages
    .find<LeftDoc>({}, { projection: { body: 0 }, limit: 10, sort: { sentAt: 1 } })
    .toArray();
  return docs.map((d) => ({
    id: d._id,
    kind: d.kind,
    from: d.from,
    to: d.to,
    sentAt: d.sentAt.toISOString(),
    attempts: d.attempts,
    deliveredAt: d.deliveredAt?.toISOString() ?? null,
    dueAt: d.dueAt?.toISOString() ?? null,
    shownByLoad: run.shown(d._id),
    ackWrittenByLoad: run.acked(d._id),
  }));
}
