/**
 * The work one message costs, counted rather than timed, so that a loaded machine disturbs
 * it little (ab.ts reads it for every case it runs). Between the end of a throughput case's
 * registration and its last delete, these counters are read before and after and divided
 * by the messages of the case (private servers, the bench's default, are needed for the
 * server-side counts: a shared server counts everyone's work):
 *
 * - RabbitMQ's global counters (`rabbitmqctl eval 'rabbit_global_counters:overview().'`):
 *   messages published (received), confirmed, routed, and delivered and acked per queue
 *   type (quorum: the engines' queue; classic: the gateways' queues);
 * - Redis `INFO commandstats`: calls per command;
 * - each engine's `gossip_engine_store_commands_total` (store round trips by command) and
 *   `gossip_engine_bus_messages_total` (bus messages consumed by op), and each gateway's
 *   `gossip_gateway_frames_pushed_total` (frames written to clients by type);
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { pgrpOf, type Target } from './procstat.js';
import type { CaseProbe } from './scenarios/throughput.js';
import type { BenchServers } from './servers.js';

const run = promisify(execFile);

/** Counter values by name, or per message. */
export type Counts = Record<string, number>;

/** The environment of the `beam.smp` in RabbitMQ's process group: its node name, home and epmd port. */
function rabbitNode(pgrp: number): { node: string; home: string; epmdPort: string } {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) !== pgrp || !stat.includes('(beam.smp)')) continue;
      const env = new Map(
        readFileSync(`/proc/${name}/environ`, 'utf8')
          .split('\0')
          .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as const),
      );
      const node = env.get('RABBITMQ_NODENAME');
      const home = env.get('HOME');
      const epmdPort = env.get('ERL_EPMD_PORT');
      if (node && home && epmdPort) return { node, home, epmdPort };
    } catch {
      // gone, or not ours to read
    }
  }
  throw new Error(`no beam.smp with RabbitMQ's environment in process group ${pgrp}`);
}

/** RabbitMQ's global message counters, flattened: `amqp091.messages_received_total`, `quorum.messages_delivered_total`, ... */
async function rabbitCounters(pgrp: number): Promise<Counts> {
  const { node, home, epmdPort } = rabbitNode(pgrp);
  const cookie = readFileSync(join(home, '.erlang.cookie'), 'utf8').trim();
  const { stdout } = await run(
    'rabbitmqctl',
    ['--erlang-cookie', cookie, '-n', node, 'eval', 'rabbit_global_counters:overview().'],
    { env: { ...process.env, HOME: home, ERL_EPMD_PORT: epmdPort }, timeout: 60_000 },
  );
  const out: Counts = {};
  // Each block: #{[{protocol,amqp091},{queue_type,rabbit_quorum_queue}] => #{k => v, ...}
  for (const m of stdout.matchAll(/\[([^\]]*)\]\s*=>\s*#\{([^}]*)\}/g)) {
    const key = m[1]!;
    if (!key.includes('protocol')) continue;
    const group = /rabbit_(\w+?)_queue/.exec(key)?.[1] ?? 'amqp091';
    for (const kv of m[2]!.matchAll(/(\w+)\s*=>\s*(\d+)/g)) {
      out[`${group}.${kv[1]!}`] = Number(kv[2]);
    }
  }
  return out;
}

/** Redis `INFO commandstats`: calls per command. */
async function redisCounters(redis: Redis): Promise<Counts> {
  const text = await redis.info('commandstats');
  const out: Counts = {};
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/** The samples of the named counters on a service's `/metrics`, keyed `name{labels}`. */
async function serviceCounters(url: string, names: readonly string[]): Promise<Counts> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Counts = {};
  for (const line of text.split('\n')) {
    const name = names.find((n) => line.startsWith(`${n}{`) || line.startsWith(`${n} `));
    if (!name) continue;
    const sample = line.slice(0, line.lastIndexOf(' '));
    // Drop the labels every sample carries (service, instance), keep the telling one.
    const label = /(op|command|type)="([^"]*)"/.exec(sample);
    const short = name.replace(/^gossip_(engine|gateway)_/, '').replace(/_total$/, '');
    out[label ? `${short}.${label[2]!}` : short] = Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return out;
}

const ENGINE_COUNTERS = ['gossip_engine_store_commands_total', 'gossip_engine_bus_messages_total'];
const GATEWAY_COUNTERS = ['gossip_gateway_frames_pushed_total'];

function pgrpOfTarget(t: Target): number {
  return 'pgrp' in t ? t.pgrp : pgrpOf(t.pid);
}

async function snapshot(
  backing: BenchServers,
  redis: Redis,
  urls: Record<string, string>,
): Promise<Record<string, Counts>> {
  const out: Record<string, Counts> = {
    rabbitmq: await rabbitCounters(pgrpOfTarget(backing.targets().rabbitmq)),
    redis: await redisCounters(redis),
  };
  for (const [name, url] of Object.entries(urls)) {
    out[name] = await serviceCounters(
      url,
      name.startsWith('engine') ? ENGINE_COUNTERS : GATEWAY_COUNTERS,
    );
  }
  return out;
}

/** (after − before) / n for every counter that moved, three decimals. */
function perMessage(
  before: Record<string, Counts>,
  after: Record<string, Counts>,
  n: number,
): Record<string, Counts> {
  const out: Record<string, Counts> = {};
  for (const [source, counts] of Object.entries(after)) {
    const moved: Counts = {};
    for (const [k, v] of Object.entries(counts)) {
      const d = v - (before[source]?.[k] ?? 0);
      if (d !== 0) moved[k] = Math.round((d / n) * 1000) / 1000;
    }
    out[source] = moved;
  }
  return out;
}

/**
 * A probe for `runThroughputCase` that snapshots every counter before and after the
 * measured part; `perMessage(n)` then gives what moved, per message, by source (rabbitmq,
 * redis, engine…, gateway…).
 */
export function workProbe(
  backing: BenchServers,
  redis: Redis,
): CaseProbe & { perMessage(n: number): Record<string, Counts> } {
  let urls: Record<string, string> = {};
  let before: Record<string, Counts> = {};
  let after: Record<string, Counts> = {};
  return {
    async before(u) {
      urls = u;
      before = await snapshot(backing, redis, urls);
    },
    async after() {
      after = await snapshot(backing, redis, urls);
    },
    perMessage: (n) => perMessage(before, after, n),
  };
}

/** Broker publishes, Redis commands and store commands per message, from `perMessage`. */
export function workTotals(w: Record<string, Counts>): {
  publishes: number;
  redis: number;
  store: number;
} {
  const sum = (xs: number[]): number => Math.round(xs.reduce((a, b) => a + b, 0) * 100) / 100;
  const entries = Object.entries(w);
  return {
    publishes: sum([w.rabbitmq?.['amqp091.messages_received_total'] ?? 0]),
    redis: sum(Object.entries(w.redis ?? {}).flatMap(([k, v]) => (k === 'info' ? [] : [v]))),
    store: sum(
      entries
        .filter(([source]) => source.startsWith('engine'))
        .flatMap(([, c]) => Object.entries(c))
        .filter(([k]) => k.startsWith('store_commands.'))
        .map(([, v]) => v),
    ),
  };
}
