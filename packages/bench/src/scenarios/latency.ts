/**
 * Latency at a fixed offered load, open loop: messages are due on a schedule (1,000/s by
 * default) whatever the system does, and each latency counts from when its message was
 * due, so queueing shows up in the percentiles instead of slowing the senders down.
 */
import { makePairs, runLoad } from '../load.js';
import { busiest, cpuMeter, cpuMsPerMessage } from '../procstat.js';
import { percentiles, round, table } from '../report.js';
import type { Scenario } from '../scenario.js';
import { cpuTable, startStack } from './throughput.js';

/** The engine's and gateway's counters that show where unanswered sends are held. */
const STALL_COUNTERS = [
  'gossip_engine_bus_inflight',
  'gossip_engine_oldest_inflight_seconds',
  'gossip_engine_messages_accepted_total',
  'gossip_engine_bus_messages_total',
  'gossip_engine_errors_total',
  'gossip_gateway_messages_accepted_total',
  'gossip_gateway_errors_total',
];

async function stallCounters(urls: Record<string, string>): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const [name, url] of Object.entries(urls)) {
    const text = await (await fetch(`${url}/metrics`)).text();
    out[name] = text
      .split('\n')
      .filter((l) => STALL_COUNTERS.some((c) => l.startsWith(c)) && !l.endsWith(' 0'));
  }
  return out;
}

export const latency: Scenario = {
  name: 'latency',
  title: 'Latency at a fixed offered load (open loop)',
  async run(ctx) {
    const seconds = ctx.quick ? 3 : 20;
    // BENCH_LATENCY_RATES=500,1000 picks the offered rates.
    const rates = process.env.BENCH_LATENCY_RATES
      ? process.env.BENCH_LATENCY_RATES.split(',').map(Number)
      : ctx.quick
        ? [100, 300]
        : [100, 250, 500, 1000];
    const pairs = 20;
    const results = [];
    for (const rate of rates) {
      const { stack, cpu, metricsUrls, urls, apiUrl } = await startStack(ctx, 'bench-lat', 1, 1);
      try {
        const users = await makePairs(apiUrl, pairs);
        // From the first measured message, so connects, v2 session set-up and the warm-up
        // (the SDK's X3DH, prekey claims through the api) are not spread over the messages.
        let meter: ReturnType<typeof cpuMeter> | undefined;
        let m0 = 0;
        const startMeter = (): void => {
          meter = cpuMeter(cpu);
          m0 = performance.now();
        };
        ctx.say(`  offering ${rate} msg/s for ${seconds} s over ${pairs} pairs`);
        const run = await runLoad(
          {
            gateways: urls,
            pairs,
            messages: Math.ceil((rate * seconds) / pairs),
            rate,
            bodyBytes: 256,
            timeoutMs: 180_000,
            say: ctx.say,
            onMeasuring: startMeter,
          },
          users,
        );
        if (!meter) throw new Error('the load ended before its measured part began');
        const cpuPct = meter.stop();
        const meterSeconds = (performance.now() - m0) / 1000;
        // The stall check (issue 18 §5): every send must end accepted (the SDK resends
        // after an error). When some did not within the wait, what the services hold now.
        const unaccepted = run.sent - run.accepted;
        const stall = unaccepted > 0 ? await stallCounters(metricsUrls) : undefined;
        if (stall) ctx.say(`  !! ${unaccepted} sends never accepted; ${JSON.stringify(stall)}`);
        const r = {
          unaccepted,
          ...(stall ? { stall } : {}),
          offeredPerSecond: rate,
          seconds,
          pairs,
          sent: run.sent,
          accepted: run.accepted,
          delivered: run.delivered,
          achievedPerSecond: Math.round(run.delivered / run.deliverSeconds),
          lastDeliveredAfterSeconds: round(run.deliverSeconds),
          latencyMs: {
            dueToAccepted: percentiles(run.toAccepted),
            dueToDeliver: percentiles(run.toDeliver),
          },
          cpuPercent: cpuPct,
          cpuMsPerMessage: cpuMsPerMessage(cpuPct, meterSeconds, run.delivered),
          limitedBy: busiest(cpuPct),
        };
        ctx.say(`  -> deliver ${JSON.stringify(r.latencyMs.dueToDeliver)}; ${r.limitedBy}`);
        results.push(r);
      } finally {
        await stack.close();
      }
    }
    const ms = (p: { p50: number; p90: number; p99: number; max: number }): string =>
      `${p.p50} / ${p.p90} / ${p.p99} / ${p.max}`;
    const markdown = [
      table(
        [
          'offered msg/s',
          'delivered msg/s',
          'send→accepted p50 / p90 / p99 / max ms',
          'send→deliver p50 / p90 / p99 / max ms',
          'never accepted',
          'busiest process',
        ],
        results.map((r) => [
          r.offeredPerSecond,
          r.achievedPerSecond,
          ms(r.latencyMs.dueToAccepted),
          ms(r.latencyMs.dueToDeliver),
          r.unaccepted,
          r.limitedBy,
        ]),
      ),
      '',
      `One engine, one gateway, ${pairs} pairs, 256-byte bodies, ${seconds} s per rate; ` +
        'latency counts from when each message was due. CPU % of one core, over the measured part (connects and warm-up left out):',
      '',
      cpuTable(results.map((r) => [`${r.offeredPerSecond}/s`, r.cpuPercent])),
      '',
      'CPU-ms per delivered message (`total` leaves `other` out):',
      '',
      cpuTable(results.map((r) => [`${r.offeredPerSecond}/s`, r.cpuMsPerMessage])),
    ].join('\n');
    return { data: { results }, markdown };
  },
};
