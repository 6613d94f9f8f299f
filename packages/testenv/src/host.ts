/**
 * What a real node changes on the host outside its own folder, recorded before it
 * starts and put back after it stops (or after a crash, on the next `up`): sysctls
 * (the kubelet and the CNI bridge set some), nft tables and their chains (kube-proxy's, and
 * iptables-nft's for the kubelet, CNI and kube-router), ipsets (kube-router's), interfaces
 * (cni0, veths), mounts, v1 cgroups, and the few folders containerd, the kubelet, libcni and
 * buildah hard-code.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { alive } from './pid.js';

/** Folders outside the node's own that its parts create with fixed names. */
export const HARD_CODED_PATHS = [
  '/run/containerd',
  '/run/nri',
  '/run/runc',
  '/run/netns',
  '/var/lib/cni',
  '/var/lib/kubelet',
  '/var/lib/containers',
  '/etc/cni',
  // libmount's lock folder, made by the clean-up's own umount calls.
  '/run/mount',
] as const;

/** Keys that change on their own (counters, random values), never compared or restored. */
const VOLATILE_SYSCTL =
  /random|stat|ns_last_pid|inode|dentry|file-nr|fs\.quota|perf_event|sched_domain|nf_conntrack_count|hung_task|softlockup|boot_id|uuid|\.lock|kernel\.tainted/;

export interface HostSnapshot {
  sysctls: Record<string, string>;
  /** `family name` of each nft table. */
  nftTables: string[];
  /** `family table chain` of each nft chain (absent in snapshots written before it existed). */
  nftChains?: string[];
  /** Names of the ipsets (absent in snapshots written before it existed). */
  ipsets?: string[];
  links: string[];
  mounts: string[];
  /** `<hierarchy>/<top-level cgroup>` in every cgroup v1 (and the unified) hierarchy. */
  cgroups: string[];
  /** Which of HARD_CODED_PATHS exist. */
  paths: string[];
}

function out(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
}

function sysctls(): Record<string, string> {
  const all: Record<string, string> = {};
  for (const line of out('sysctl', ['-a']).split('\n')) {
    const i = line.indexOf(' = ');
    if (i < 0) continue;
    const key = line.slice(0, i);
    if (!VOLATILE_SYSCTL.test(key)) all[key] = line.slice(i + 3);
  }
  return all;
}

function nftTables(): string[] {
  return out('nft', ['list', 'tables'])
    .split('\n')
    .filter((l) => l.startsWith('table '))
    .map((l) => l.slice('table '.length).trim())
    .sort();
}

function nftChains(): string[] {
  const found: string[] = [];
  let table = '';
  for (const line of out('nft', ['list', 'chains']).split('\n')) {
    const t = /^table (\S+ \S+)/.exec(line);
    if (t) table = t[1] ?? '';
    const c = /^\tchain (\S+)/.exec(line);
    if (c && table) found.push(`${table} ${c[1]}`);
  }
  return found.sort();
}

function ipsets(): string[] {
  return out('ipset', ['list', '-n']).split('\n').filter(Boolean).sort();
}

function links(): string[] {
  return readdirSync('/sys/class/net').sort();
}

/** Mount points, unescaped (mountinfo writes spaces as \040). */
export function mounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) =>
      l
        .split(' ')[4]!
        .replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))),
    )
    .sort();
}

const CGROUP_ROOT = '/sys/fs/cgroup';

function cgroups(): string[] {
  const found: string[] = [];
  for (const h of readdirSync(CGROUP_ROOT)) {
    const dir = join(CGROUP_ROOT, h);
    try {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) found.push(`${h}/${e.name}`);
      }
    } catch {
      // not a hierarchy
    }
  }
  return found.sort();
}

export function snapshotHost(): HostSnapshot {
  return {
    sysctls: sysctls(),
    nftTables: nftTables(),
    nftChains: nftChains(),
    ipsets: ipsets(),
    links: links(),
    mounts: mounts(),
    cgroups: cgroups(),
    paths: HARD_CODED_PATHS.filter((p) => existsSync(p)),
  };
}

/** Every way `now` differs from `before`, one line each; empty when the host is as it was. */
export function diffHost(before: HostSnapshot, now: HostSnapshot): string[] {
  const d: string[] = [];
  const sets = (what: string, a: string[], b: string[]): void => {
    for (const x of b) if (!a.includes(x)) d.push(`${what} added: ${x}`);
    for (const x of a) if (!b.includes(x)) d.push(`${what} removed: ${x}`);
  };
  sets('nft table', before.nftTables, now.nftTables);
  // Only chains of tables that stay: a table added or removed is one line already.
  const kept = (c: string): boolean => {
    const table = c.split(' ').slice(0, 2).join(' ');
    return before.nftTables.includes(table) && now.nftTables.includes(table);
  };
  if (before.nftChains && now.nftChains) {
    sets('nft chain', before.nftChains.filter(kept), now.nftChains.filter(kept));
  }
  if (before.ipsets && now.ipsets) sets('ipset', before.ipsets, now.ipsets);
  sets('interface', before.links, now.links);
  sets('mount', before.mounts, now.mounts);
  sets('cgroup', before.cgroups, now.cgroups);
  sets('path', before.paths, now.paths);
  for (const [k, v] of Object.entries(before.sysctls)) {
    if (k in now.sysctls && now.sysctls[k] !== v) d.push(`sysctl ${k}: ${v} -> ${now.sysctls[k]}`);
  }
  return d;
}

/** Pids in a cgroup subtree (every process of every pod under it). */
function cgroupPids(dir: string): number[] {
  const pids: number[] = [];
  const walk = (d: string): void => {
    try {
      for (const p of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) {
        if (p) pids.push(Number(p));
      }
      for (const e of readdirSync(d, { withFileTypes: true }))
        if (e.isDirectory()) walk(join(d, e.name));
    } catch {
      // gone meanwhile
    }
  };
  walk(dir);
  return pids;
}

/** The containerd shims (and anything else) started for our containerd socket. */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(text)) pids.push(Number(e));
    } catch {
      // exited
    }
  }
  return pids;
}

function rmdirDeep(dir: string): void {
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) rmdirDeep(join(dir, e.name));
    }
    rmdirSync(dir);
  } catch {
    // busy or gone; the final diff reports what stayed
  }
}

export interface TeardownOptions {
  /** The node's own folder (containerd root and state, kubelet root, CNI data). */
  nodeDir: string;
  /** The containerd socket, to find its shims. */
  containerdSocket: string;
  /** Pod and Service networks, to drop their conntrack entries. */
  cidrs: string[];
  log: (line: string) => void;
}

/**
 * Undoes what the node did to the host, relative to `before`: kills what still runs in
 * the pods' cgroups and our shims, unmounts, deletes the nft tables, interfaces, cgroups
 * and folders that were not there, and restores changed sysctls. Returns what still
 * differs afterwards (empty: the host is as it was).
 */
export async function restoreHost(before: HostSnapshot, opts: TeardownOptions): Promise<string[]> {
  const newCgroups = cgroups().filter((c) => !before.cgroups.includes(c));
  const victims = new Set<number>([
    ...newCgroups.flatMap((c) => cgroupPids(join(CGROUP_ROOT, c))),
    ...processesMentioning(opts.containerdSocket),
  ]);
  for (const pid of victims) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (let i = 0; i < 50 && [...victims].some(alive); i++) await sleep(100);

  const ours = (m: string): boolean =>
    !before.mounts.includes(m) &&
    (m.startsWith(opts.nodeDir + '/') ||
      m.startsWith('/run/containerd') ||
      m.startsWith('/run/netns') ||
      m.startsWith('/var/lib/kubelet') ||
      m.startsWith('/var/lib/containers'));
  for (const m of mounts()
    .filter(ours)
    .sort((a, b) => b.length - a.length)) {
    out('umount', ['-l', m]);
  }

  for (const t of nftTables().filter((t) => !before.nftTables.includes(t))) {
    const [family, name] = t.split(' ') as [string, string];
    const chains = out('nft', ['list', 'table', family, name])
      .split('\n')
      .map((l) => /^\tchain (\S+)/.exec(l)?.[1])
      .filter((c): c is string => c !== undefined);
    const mine =
      name === 'kube-proxy' ||
      chains.every((c) => /^(INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING|CNI-.*|KUBE-.*)$/.test(c));
    if (mine) out('nft', ['delete', 'table', family, name]);
    else opts.log(`kept nft table ${t}: it has chains the node did not make`);
  }

  // Chains the node added to tables that were there before (kube-router's in a filter table
  // of the host's own): the rules that jump to them go first, then the chains.
  if (before.nftChains) {
    const added = nftChains().filter(
      (c) => !before.nftChains!.includes(c) && /^\S+ \S+ (KUBE-|CNI-)/.test(c),
    );
    for (const c of added) {
      const [family, table, chain] = c.split(' ') as [string, string, string];
      out('nft', ['flush', 'chain', family, table, chain]);
    }
    for (const c of added) {
      const [family, table, chain] = c.split(' ') as [string, string, string];
      let current = '';
      for (const line of out('nft', ['-a', 'list', 'table', family, table]).split('\n')) {
        const head = /^\tchain (\S+)/.exec(line);
        if (head) current = head[1] ?? '';
        const handle = /(?:jump|goto) (\S+) .*# handle (\d+)$/.exec(line.trim());
        if (handle && handle[1] === chain && current) {
          out('nft', ['delete', 'rule', family, table, current, 'handle', handle[2] ?? '']);
        }
      }
    }
    for (const c of added) {
      const [family, table, chain] = c.split(' ') as [string, string, string];
      out('nft', ['delete', 'chain', family, table, chain]);
    }
  }
  // After the rules that match on them are gone (a set in use cannot be destroyed).
  if (before.ipsets) {
    for (const set of ipsets().filter((x) => !before.ipsets!.includes(x))) {
      out('ipset', ['destroy', set]);
    }
  }

  for (const l of links().filter((l) => !before.links.includes(l))) {
    if (/^(cni0|veth|cni-podman)/.test(l)) out('ip', ['link', 'del', l]);
  }
  for (const c of opts.cidrs) {
    out('conntrack', ['-D', '-s', c]);
    out('conntrack', ['-D', '-d', c]);
  }

  for (const c of cgroups().filter((c) => !before.cgroups.includes(c))) {
    rmdirDeep(join(CGROUP_ROOT, c));
  }
  for (const p of HARD_CODED_PATHS) {
    if (!before.paths.includes(p) && existsSync(p)) {
      if (statSync(p).isDirectory()) rmSync(p, { recursive: true, force: true });
    }
  }

  const now = sysctls();
  for (const [k, v] of Object.entries(before.sysctls)) {
    if (k in now && now[k] !== v) out('sysctl', ['-q', '-w', `${k}=${v}`]);
  }
  return diffHost(before, snapshotHost());
}
