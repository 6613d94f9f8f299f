/**
 * Idle WebSocket connections on one gateway process: opens authenticated connections in
 * steps (1k, 10k, 20k, then on until the first failure or the step list ends) and, at each
 * step, reads the gateway's resident memory and CPU.
 *
 * How memory is measured, the same way with no connections and at each step: wait until
 * the gateway and the engine are quiet (each under 5% CPU for 2 s running; the engine
 * answers every new connection's replay request), then leave everything idle for one ping
 * interval (the gateway pings every socket and refreshes every user's presence in it) while
 * measuring CPU and sampling VmRSS every second: "idle" is VmRSS at the end of that window,
 * with whatever garbage the process still carries. Then a full GC is forced through the
 * inspector (the gateway runs with `--inspect` on loopback for this) three times, 2 s apart,
 * and "after GC" is the lowest VmRSS read 2 s after each: what the process retains.
 * Per connection: (rss(N) - rss(0)) / N for both, and rss(N) / N.
 *
 * Clients run in child processes (idle-clients.ts), at most 15,000 each and one loopback
 * source address each (127.0.0.2, .3, ...), since one address has ~28k ephemeral ports.
 * The gateway keeps the file-descriptor limit it inherits (on the reference machine a hard
 * 20,000, which even root cannot raise there: the container lacks CAP_SYS_RESOURCE), so the
 * default steps end with 19,900 and then 20,000, which is expected to fail on that limit
 * and says so.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, repoRoot, ServiceStack } from '@gossip/testenv';
import type { FromWorker, ToWorker } from '../idle-clients.js';
import { collectGarbage, memoryUsage, type MemoryUsage } from '../inspector.js';
import { cpuMeter, pgrpOf, rssBytes, type Target } from '../procstat.js';
import { table, type ScenarioResult } from '../report.js';
import type { BenchContext, Scenario } from '../scenario.js';

const PER_WORKER = 15_000;
const PING_INTERVAL_MS = 25_000;
const MiB = 2 ** 20;
const KiB = 2 ** 10;

/** One measurement of the gateway, the same with no connections and at each step. */
interface Memory {
  /** VmRSS right after the quiet wait, then at the end of the idle window, its peak in it. */
  rssSettledBytes: number;
  rssIdleBytes: number;
  rssIdlePeakBytes: number;
  /** Lowest VmRSS 2 s after each of three forced full GCs, and memoryUsage() then. */
  rssAfterGcBytes: number;
  memoryAfterGc: MemoryUsage;
  /** CPU % (of one core) of each process over the idle window. */
  idleCpu: Record<string, number>;
  redisUsedBytes: number;
  gatewayOpenFiles: number;
  /** Seconds until gateway and engine were quiet. */
  settleSeconds: number;
}

interface Step extends Memory {
  connections: number;
  /** Seconds the step's new connections took to open, and the rate. */
  openSeconds: number;
  openPerSecond: number;
  /** CPU % while they opened (clientsN are the client processes). */
  openCpu: Record<string, number>;
  /** (idle RSS at N - idle RSS at 0) / N, and the same after GC. */
  perConnectionIdleBytes: number;
  perConnectionAfterGcBytes: number;
  /** RSS at N / N, idle and after GC. */
  totalPerConnectionIdleBytes: number;
  totalPerConnectionAfterGcBytes: number;
  /** (JS heap used at N - at 0) / N, after GC: steadier than RSS at small N. */
  heapPerConnectionBytes: number;
  clientsDropped: number;
}

interface Worker {
  child: ChildProcess;
  address: string;
  count: number;
  next(): Promise<FromWorker>;
}

function startWorker(index: number): Promise<Worker> {
  const child = fork(fileURLToPath(new URL('../idle-clients.ts', import.meta.url)), [], {
    cwd: repoRoot,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const inbox: FromWorker[] = [];
  let wake: (() => void) | undefined;
  child.on('message', (m: FromWorker) => {
    inbox.push(m);
    wake?.();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const w: Worker = {
    child,
    address: `127.0.0.${2 + index}`,
    count: 0,
    async next() {
      while (inbox.length === 0) {
        const gone = await Promise.race([
          exited.then(() => true),
          new Promise<boolean>((resolve) => (wake = () => resolve(false))),
        ]);
        if (gone && inbox.length === 0) throw new Error(`client worker ${index} exited`);
      }
      return inbox.shift()!;
    },
  };
  return new Promise((resolve, reject) => {
    child.once('spawn', () => resolve(w));
    child.once('error', reject);
  });
}

const send = (w: Worker, m: ToWorker): void => {
  w.child.send(m);
};

/** The gateway's own count of open connections, from its /metrics. */
async function gatewayConnections(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = /^gossip_gateway_connections(?:\{[^}]*\})? (\d+)/m.exec(text);
  return m ? Number(m[1]) : NaN;
}

/** The soft limit on open files of a process, from /proc (its fd count caps its sockets). */
function openFilesLimit(pid: number): number {
  const line = /Max open files\s+(\d+)/.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  return Number(line?.[1] ?? NaN);
}

const openFiles = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

function memAvailableBytes(): number {
  const kb = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1];
  return Number(kb ?? 0) * 1024;
}

/** Waits until every target has used under `pct`% CPU for `quietSeconds` running. */
async function settle(
  targets: Record<string, Target>,
  pct: number,
  quietSeconds: number,
  maxSeconds: number,
): Promise<number> {
  const t0 = Date.now();
  let quiet = 0;
  while (quiet < quietSeconds && Date.now() - t0 < maxSeconds * 1000) {
    const m = cpuMeter(targets);
    await sleep(1000);
    const cpu = m.stop();
    quiet = Object.entries(cpu).every(([n, v]) => n === 'load' || v < pct) ? quiet + 1 : 0;
  }
  return Math.round((Date.now() - t0) / 1000);
}

const mib = (b: number): string => (b / MiB).toFixed(1);
const kib = (b: number): string => (b / KiB).toFixed(1);

export const connections: Scenario = {
  name: 'connections',
  title: 'Idle WebSocket connections on one gateway',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const steps = ctx.quick
      ? [1000, 2000]
      : (process.env.BENCH_CONN_STEPS ?? '1000,10000,19000,19900,20000,30000,40000')
          .split(',')
          .map(Number);
    const idleWindowMs = ctx.quick ? 5000 : PING_INTERVAL_MS;
    const stack = new ServiceStack('bench-conn', ctx.servers);
    const workers: Worker[] = [];
    const results: Step[] = [];
    let stoppedBecause = `the step list ended at ${steps.at(-1)}`;
    try {
      const engine = await stack.startEngine({ ENGINE_LOG_LEVEL: 'warn' });
      const inspectPort = await freePort();
      const gw = await stack.startGateway(
        { GATEWAY_LOG_LEVEL: 'warn', GATEWAY_PING_INTERVAL_MS: String(PING_INTERVAL_MS) },
        { nodeArgs: [`--inspect=127.0.0.1:${inspectPort}`] },
      );
      const pid = gw.proc.pid;
      const nofile = openFilesLimit(pid);
      ctx.say(`  gateway pid ${pid} (pgrp ${pgrpOf(pid)}) may open ${nofile} files`);
      const targets: Record<string, Target> = {
        gateway: { pid },
        engine: { pid: engine.proc.pid },
        redis: ctx.targets().redis,
        rabbitmq: ctx.targets().rabbitmq,
      };
      const services = { gateway: targets.gateway!, engine: targets.engine! };
      const redisUsed = async (): Promise<number> =>
        Number(/used_memory:(\d+)/.exec(await stack.redis.info('memory'))?.[1] ?? NaN);

      const measure = async (): Promise<Memory> => {
        const settleSeconds = await settle(services, 5, 2, 180);
        const rssSettledBytes = rssBytes(pid);
        const idle = cpuMeter(targets);
        let rssIdlePeakBytes = rssSettledBytes;
        for (let t = 0; t < idleWindowMs; t += 1000) {
          await sleep(1000);
          rssIdlePeakBytes = Math.max(rssIdlePeakBytes, rssBytes(pid));
        }
        const idleCpu = idle.stop();
        const rssIdleBytes = rssBytes(pid);
        let rssAfterGcBytes = Infinity;
        let memoryAfterGc: MemoryUsage | undefined;
        for (let i = 0; i < 3; i++) {
          await collectGarbage(inspectPort);
          await sleep(2000);
          const rss = rssBytes(pid);
          if (rss < rssAfterGcBytes) {
            rssAfterGcBytes = rss;
            memoryAfterGc = await memoryUsage(inspectPort);
          }
        }
        return {
          rssSettledBytes,
          rssIdleBytes,
          rssIdlePeakBytes,
          rssAfterGcBytes,
          memoryAfterGc: memoryAfterGc!,
          idleCpu,
          redisUsedBytes: await redisUsed(),
          gatewayOpenFiles: openFiles(pid),
          settleSeconds,
        };
      };

      const base = await measure();
      ctx.say(
        `  no connections: rss ${mib(base.rssIdleBytes)} MiB idle, ` +
          `${mib(base.rssAfterGcBytes)} after GC (heap ${mib(base.memoryAfterGc.heapUsed)})`,
      );

      let open = 0;
      for (const target of steps) {
        if (memAvailableBytes() < 2 * 2 ** 30) {
          stoppedBecause = `under 2 GiB of memory left on the machine before ${target}`;
          break;
        }
        // Hand the step's new connections to workers, 15k each at most.
        while (workers.length * PER_WORKER < target) {
          workers.push(await startWorker(workers.length));
        }
        const batches: Promise<FromWorker>[] = [];
        const t0 = performance.now();
        const meter = cpuMeter({
          ...targets,
          ...Object.fromEntries(workers.map((w, i) => [`clients${i}`, { pid: w.child.pid! }])),
        });
        let want = target - open;
        let first = open;
        while (want > 0) {
          const w = workers.find((x) => x.count < PER_WORKER)!;
          const n = Math.min(want, PER_WORKER - w.count);
          const tokens = await Promise.all(
            Array.from({ length: n }, (_, i) => stack.token(`idle${first + i}`, 24 * 3600)),
          );
          send(w, { op: 'open', url: gw.wsUrl, tokens, localAddress: w.address, concurrency: 50 });
          batches.push(w.next());
          w.count += n;
          first += n;
          want -= n;
        }
        const replies = await Promise.all(batches);
        const openSeconds = (performance.now() - t0) / 1000;
        const openCpu = meter.stop();
        const ok = replies.reduce((s, r) => s + (r.op === 'opened' ? r.ok : 0), 0);
        const error = replies.find((r) => r.op === 'opened' && r.error);
        open += ok;
        if (error && error.op === 'opened') {
          stoppedBecause =
            `opening ${target} failed at ${open} open: "${error.error}"; the gateway had ` +
            `${openFiles(pid)} files open of its limit of ${nofile}`;
          ctx.say(`  ${stoppedBecause}`);
          break;
        }
        const m = await measure();
        const held = await gatewayConnections(gw.metricsUrl);
        let dropped = 0;
        for (const w of workers) {
          send(w, { op: 'status' });
          const st = await w.next();
          if (st.op === 'status') dropped += st.dropped;
        }
        const step: Step = {
          ...m,
          redisUsedBytes: m.redisUsedBytes - base.redisUsedBytes,
          connections: open,
          openSeconds: Math.round(openSeconds * 10) / 10,
          openPerSecond: Math.round(ok / openSeconds),
          openCpu,
          perConnectionIdleBytes: Math.round((m.rssIdleBytes - base.rssIdleBytes) / open),
          perConnectionAfterGcBytes: Math.round((m.rssAfterGcBytes - base.rssAfterGcBytes) / open),
          totalPerConnectionIdleBytes: Math.round(m.rssIdleBytes / open),
          totalPerConnectionAfterGcBytes: Math.round(m.rssAfterGcBytes / open),
          heapPerConnectionBytes: Math.round(
            (m.memoryAfterGc.heapUsed - base.memoryAfterGc.heapUsed) / open,
          ),
          clientsDropped: dropped,
        };
        results.push(step);
        ctx.say(
          `  ${open} open (gateway says ${held}), ${step.openPerSecond}/s: rss ` +
            `${mib(m.rssIdleBytes)} MiB idle (${kib(step.perConnectionIdleBytes)} KiB/conn), ` +
            `${mib(m.rssAfterGcBytes)} after GC (${kib(step.perConnectionAfterGcBytes)} KiB/conn,` +
            ` heap ${mib(m.memoryAfterGc.heapUsed)}); idle CPU gateway ${m.idleCpu.gateway}% ` +
            `engine ${m.idleCpu.engine}% redis ${m.idleCpu.redis}%`,
        );
        if (held !== open || dropped > 0) {
          stoppedBecause = `the gateway held ${held} of ${open} (clients saw ${dropped} dropped)`;
          break;
        }
      }

      const rows = results.map((s) => [
        s.connections.toLocaleString('en'),
        `${mib(s.rssIdleBytes)} (peak ${mib(s.rssIdlePeakBytes)})`,
        kib(s.perConnectionIdleBytes),
        kib(s.totalPerConnectionIdleBytes),
        mib(s.rssAfterGcBytes),
        kib(s.perConnectionAfterGcBytes),
        kib(s.totalPerConnectionAfterGcBytes),
        mib(s.memoryAfterGc.heapUsed),
        kib(s.heapPerConnectionBytes),
        mib(s.redisUsedBytes),
        `${s.idleCpu.gateway}%`,
        `${s.idleCpu.redis}%`,
        `${s.openPerSecond}/s (gateway ${s.openCpu.gateway}%)`,
      ]);
      const markdown = [
        table(
          [
            'connections',
            'gateway RSS idle (MiB)',
            'per conn. idle (KiB)',
            'RSS idle / N (KiB)',
            'RSS after GC (MiB)',
            'per conn. after GC (KiB)',
            'RSS after GC / N (KiB)',
            'JS heap after GC (MiB)',
            'JS heap per conn. (KiB)',
            'Redis presence (MiB)',
            'gateway CPU idle',
            'Redis CPU idle',
            'opened at',
          ],
          rows,
        ),
        '',
        `With no connections the gateway's RSS is ${mib(base.rssIdleBytes)} MiB idle, ` +
          `${mib(base.rssAfterGcBytes)} MiB after GC (JS heap ${mib(base.memoryAfterGc.heapUsed)}` +
          ' MiB). "Idle": VmRSS after one ping interval ' +
          `(${idleWindowMs / 1000} s) with every socket idle, garbage included; "after GC": the ` +
          'lowest VmRSS 2 s after each of three full GCs forced through the inspector. Per ' +
          'connection = (RSS(N) - RSS(0)) / N (at 1-2k it is within the noise of RSS, a few MiB; ' +
          'the JS heap figure is steadier). CPU: % of one core over the idle window (one ' +
          'ping sweep and presence refresh). Redis presence: growth of used_memory. Clients: ' +
          `${workers.length} processes, one loopback address each. Stopped: ${stoppedBecause}.`,
      ].join('\n');
      return {
        data: {
          baseline: base,
          steps: results,
          stoppedBecause,
          gatewayOpenFilesLimit: nofile,
          idleWindowMs,
          clientWorkers: workers.length,
        },
        markdown,
      };
    } finally {
      for (const w of workers) {
        if (w.child.connected) send(w, { op: 'exit' });
      }
      await Promise.all(
        workers.map((w) =>
          w.child.exitCode === null
            ? new Promise((resolve) => w.child.once('exit', resolve))
            : undefined,
        ),
      );
      await stack.close();
    }
  },
};
