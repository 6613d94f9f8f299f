/**
 * CPU and memory of the processes under load, read from /proc (Linux), so a report can
 * say which process limited a figure instead of guessing. A "process" here is a whole
 * process group (RabbitMQ's shell wrapper, beam.smp and its helpers count as one).
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

interface Stat {
  pgrp: number;
  /** utime + stime, in ticks. */
  ticks: number;
  rssPages: number;
}

function readStat(pid: number): Stat | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces; fields after it are space separated.
    const f = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    return { pgrp: Number(f[2]), ticks: Number(f[11]) + Number(f[12]), rssPages: Number(f[21]) };
  } catch {
    return undefined;
  }
}

/** A single process, or every process of a group (a backing server and its helpers). */
export type Target = { pid: number } | { pgrp: number };

/** CPU ticks used so far by each target. */
function ticksOf(targets: readonly Target[]): number[] {
  const out = targets.map((t) => ('pid' in t ? (readStat(t.pid)?.ticks ?? 0) : 0));
  const groups = new Map<number, number>();
  targets.forEach((t, i) => {
    if ('pgrp' in t) groups.set(t.pgrp, i);
  });
  if (groups.size === 0) return out;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    const i = s ? groups.get(s.pgrp) : undefined;
    if (s && i !== undefined) out[i] = out[i]! + s.ticks;
  }
  return out;
}

/** Resident memory of one process, in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  if (!kb) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb) * 1024;
}

/** The process group a pid leads or belongs to. */
export function pgrpOf(pid: number): number {
  const s = readStat(pid);
  if (!s) throw new Error(`process ${pid} is gone`);
  return s.pgrp;
}

/** Busy and total jiffies of the whole machine (all cores), from /proc/stat. */
function machineTicks(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0); // idle + iowait
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/**
 * Starts measuring the CPU of named targets; `stop()` returns each one's average CPU use
 * over the interval in percent of one core (200 = two cores busy). The bench process
 * itself (the load generator) is always included as `load`, and `other` is whatever else
 * ran on the machine meanwhile (busy time of all cores minus the targets'), which shows
 * when a figure was disturbed.
 */
export function cpuMeter(named: Record<string, Target>): {
  stop(): Record<string, number>;
} {
  const all: Record<string, Target> = { ...named, load: { pid: process.pid } };
  const names = Object.keys(all);
  const targets = Object.values(all);
  const before = ticksOf(targets);
  const m0 = machineTicks();
  const t0 = performance.now();
  return {
    stop() {
      const after = ticksOf(targets);
      const m1 = machineTicks();
      const seconds = (performance.now() - t0) / 1000;
      const out: Record<string, number> = {};
      let ours = 0;
      names.forEach((n, i) => {
        out[n] = Math.round(((after[i]! - before[i]!) / TICKS_PER_SECOND / seconds) * 100);
        ours += after[i]! - before[i]!;
      });
      const busy = m1.busy - m0.busy;
      out.other = Math.max(0, Math.round(((busy - ours) / TICKS_PER_SECOND / seconds) * 100));
      return out;
    },
  };
}

/** The busiest target of a measurement, as "engine 97%" (`other` is not a target). */
export function busiest(cpu: Record<string, number>): string {
  const [name, pct] = Object.entries(cpu)
    .filter(([n]) => n !== 'other')
    .sort((a, b) => b[1] - a[1])[0] ?? ['none', 0];
  return `${name} ${pct}%`;
}

/**
 * CPU-ms each target spent per message, from a `cpuMeter` reading (percent of one core)
 * over `seconds` in which `messages` went through; `total` is the sum over the targets
 * (`other`, what else ran on the machine, is left out of it).
 */
export function cpuMsPerMessage(
  cpu: Record<string, number>,
  seconds: number,
  messages: number,
): Record<string, number> {
  const out: Record<string, number> = {};
  let total = 0;
  for (const [name, pct] of Object.entries(cpu)) {
    const ms = ((pct / 100) * seconds * 1000) / Math.max(1, messages);
    out[name] = Math.round(ms * 100) / 100;
    if (name !== 'other') total += ms;
  }
  out.total = Math.round(total * 100) / 100;
  return out;
}
