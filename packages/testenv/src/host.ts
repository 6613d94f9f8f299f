/**
 * What a real node changes on the host outside its own folder, recorded before it
 * starts and put back after it stops (or after a crash, on the next `up`): sysctls
 * (the kubelet and the CNI bridge set some), nft tables (kube-proxy's, and iptables-nft's
 * for the kubelet and CNI), interfaces (cni0, veths), mounts, v1 cgroups, and the few
 * folders containerd, the kubelet, libcni and buildah hard-code.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

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
  sets('interface', before.links, now.links);
  sets('mount', before.mounts, now.mounts);
  sets('cgroup', before.cgroups, now.cgroups);
  sets('path', before.paths, now.paths);
  for (const [k, v] of Object.entries(before.sysctls)) {
    if (k in now.sysctls && now.sysctls[k] !== v) d.push(`sysctl ${k}: ${v} -> ${now.sysctls[k]}`);
  }
  return d;
}

function alive(pid: number): boolean {
  try {
    // A zombie still answers kill(0); this machine's init reaps late, so read the state.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
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
