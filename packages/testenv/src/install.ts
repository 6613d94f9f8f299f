/**
 * Gets the test servers onto the machine: Debian packages through apt, and the
 * Go-built servers (Kubernetes control plane, etcd, helm, FerretDB) compiled from
 * the Go module proxy at pinned versions into a versioned cache outside the repo,
 * so only the first run on a machine pays for the build.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from './state.js';

/** The pinned versions; changing one changes its cache folder, so it rebuilds. */
export const VERSIONS = {
  kubernetes: 'v1.37.2',
  helm: 'v3.22.0',
  ferretdb: 'v1.24.2',
  /** The node's cluster DNS (github.com/coredns/coredns). */
  coredns: 'v1.15.0',
  /** The node's dynamic volumes (github.com/rancher/local-path-provisioner). */
  localPath: 'v0.0.30',
  /** github.com/GoogleContainerTools/skaffold/v2, built only when `testenv skaffold` runs. */
  skaffold: 'v2.16.1',
} as const;

/** Debian packages the local stack (`npm start`) needs, and one binary each that proves it is installed. */
const STACK_DEBIAN: Record<string, string> = {
  'redis-server': '/usr/bin/redis-server',
  'rabbitmq-server': '/usr/lib/rabbitmq/bin/rabbitmq-server',
};

/** What the tests need on top: Prometheus and promtool, openssl for the control plane's CA, a browser. */
const DEBIAN: Record<string, string> = {
  ...STACK_DEBIAN,
  prometheus: '/usr/bin/prometheus',
  openssl: '/usr/bin/openssl',
  chromium: '/usr/bin/chromium',
};

/**
 * What a real node needs on top (`up --node`): the container runtime, CNI plugins, the
 * tools kube-proxy, the kubelet, kube-router and the clean-up use, buildah for images, debootstrap for
 * the images' Debian base, busybox for the volume helper image, gcc to compile `pause`.
 */
const NODE_DEBIAN: Record<string, string> = {
  containerd: '/usr/bin/containerd',
  runc: '/usr/sbin/runc',
  'containernetworking-plugins': '/usr/lib/cni/bridge',
  nftables: '/usr/sbin/nft',
  iptables: '/usr/sbin/iptables',
  // kube-router's NetworkPolicy controller keeps pod address sets in ipsets (policy-controller.ts).
  ipset: '/usr/sbin/ipset',
  conntrack: '/usr/sbin/conntrack',
  buildah: '/usr/bin/buildah',
  debootstrap: '/usr/sbin/debootstrap',
  'busybox-static': '/bin/busybox',
  gcc: '/usr/bin/gcc',
  'libc6-dev': '/usr/lib/x86_64-linux-gnu/libc.a',
};

/**
 * What `testenv skaffold` needs on top of a node: podman, whose `system service` is the
 * Docker Engine API that skaffold's local builder asks for image ids and tags (over the same
 * storage buildah builds into); skaffold itself builds through buildah (a custom builder).
 */
const SKAFFOLD_DEBIAN: Record<string, string> = { podman: '/usr/bin/podman' };

/** Which Debian packages to make sure of: the tests' full set, the stack's, the tests' plus a node's, or skaffold's. */
export type DebianSet = 'tests' | 'stack' | 'node' | 'skaffold';

function debianSet(set: DebianSet): Record<string, string> {
  if (set === 'stack') return STACK_DEBIAN;
  if (set === 'skaffold') return SKAFFOLD_DEBIAN;
  return set === 'node' ? { ...DEBIAN, ...NODE_DEBIAN } : DEBIAN;
}

const gomodDir = join(repoRoot, 'packages/testenv/gomod');
const ferretModDir = join(repoRoot, 'packages/testenv/ferretdb');

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GOSSIP_TESTENV_CACHE) return env.GOSSIP_TESTENV_CACHE;
  const xdg = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME !== '' ? env.XDG_CACHE_HOME : undefined;
  return join(xdg ?? join(homedir(), '.cache'), 'gossip-testenv');
}

export interface Binaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubectl: string;
  kubeScheduler: string;
  kubelet: string;
  kubeProxy: string;
  helm: string;
  ferretdb: string;
  redisServer: string;
  rabbitmqServer: string;
  epmd: string;
  prometheus: string;
  promtool: string;
  openssl: string;
}

export type Progress = (line: string) => void;

/** Installs missing Debian packages (as root) or says exactly what to install. */
export function ensureDebianPackages(progress: Progress, set: DebianSet = 'tests'): void {
  const missing = Object.entries(debianSet(set))
    .filter(([, bin]) => !existsSync(bin))
    .map(([pkg]) => pkg);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `missing Debian packages: ${missing.join(' ')}; install them with ` +
        `\`sudo apt-get install -y --no-install-recommends ${missing.join(' ')}\``,
    );
  }
  progress(`installing Debian packages: ${missing.join(' ')} (apt-get, about a minute)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** A short hash of a Go module's pins and sources, so an edit rebuilds into a new folder. */
function goCacheKey(dir: string, files: string[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(readFileSync(join(dir, f)));
  return h.digest('hex').slice(0, 12);
}

interface SourcePatch {
  file: string;
  find: string;
  replace: string;
  why: string;
}

/** Fixes applied to FerretDB's pinned source before it is built (see ferretdb/patches.json). */
const FERRET_PATCHES = JSON.parse(
  readFileSync(join(ferretModDir, 'patches.json'), 'utf8'),
) as SourcePatch[];

/**
 * Copies the pinned FerretDB module out of the Go module cache into `<dir>/src`, applies
 * FERRET_PATCHES (each must match exactly once, or the build stops: a new pin needs its
 * patches reviewed), and returns a build folder whose go.mod replaces the module with the
 * patched copy. Dependencies stay pinned by go.sum.
 */
function patchedFerretModule(dir: string): string {
  const mod = `github.com/FerretDB/FerretDB@${VERSIONS.ferretdb}`;
  const info = JSON.parse(
    execFileSync('go', ['mod', 'download', '-json', mod], {
      cwd: ferretModDir,
      env: goEnv(),
      encoding: 'utf8',
    }),
  ) as { Dir?: string; Error?: string };
  if (!info.Dir) throw new Error(`go mod download ${mod} failed: ${info.Error ?? 'no Dir'}`);
  const src = join(dir, 'src');
  rmSync(src, { recursive: true, force: true });
  cpSync(info.Dir, src, { recursive: true });
  // The module cache is read-only; the copy must be writable to patch and to remove.
  execFileSync('chmod', ['-R', 'u+w', src]);
  for (const p of FERRET_PATCHES) {
    const file = join(src, p.file);
    const text = readFileSync(file, 'utf8');
    const hits = text.split(p.find).length - 1;
    if (hits !== 1) {
      throw new Error(
        `FerretDB patch for ${p.file} matched ${hits} times (expected 1): review ferretdb/patches.json for ${VERSIONS.ferretdb}`,
      );
    }
    writeFileSync(file, text.replace(p.find, p.replace));
  }
  const build = join(dir, 'build');
  rmSync(build, { recursive: true, force: true });
  mkdirSync(build, { recursive: true });
  for (const f of ['go.mod', 'go.sum', 'main.go']) cpSync(join(ferretModDir, f), join(build, f));
  execFileSync('go', ['mod', 'edit', `-replace=github.com/FerretDB/FerretDB=${src}`], {
    cwd: build,
    env: goEnv(),
  });
  return build;
}

/** Runs a command, streaming a heartbeat so a long build shows progress. */
export async function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; what: string },
  progress: Progress,
): Promise<void> {
  const started = Date.now();
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const beat = setInterval(() => {
    progress(`  still building ${opts.what} (${Math.round((Date.now() - started) / 1000)} s)`);
  }, 60_000);
  const code = await new Promise<number | null>((res) => child.on('exit', res));
  clearInterval(beat);
  if (code !== 0) {
    throw new Error(
      `${opts.what}: \`${cmd} ${args.join(' ')}\` failed (${code}):\n${out.slice(-4000)}`,
    );
  }
  progress(`  built ${opts.what} in ${Math.round((Date.now() - started) / 1000)} s`);
}

/** One build at a time per machine, so two first runs don't compile twice at once. */
export async function withLock<T>(
  dir: string,
  fn: () => Promise<T>,
  progress: Progress,
): Promise<T> {
  const lock = join(dir, '.lock');
  mkdirSync(dir, { recursive: true });
  for (let announced = false; ;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      const holder = Number(safeRead(join(lock, 'pid')));
      if (holder && !alive(holder)) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (!announced) progress(`waiting for another build (pid ${holder}) to finish`);
      announced = true;
      await sleep(2000);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function safeRead(f: string): string {
  try {
    return readFileSync(f, 'utf8');
  } catch {
    return '';
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A killed daemon stays a zombie until init reaps it, and init here reaps late; kill(0)
  // still succeeds on a zombie, so read its state.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

function goEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GOFLAGS: '-buildvcs=false' };
}

const goBuildFlags = ['-trimpath', '-ldflags=-s -w'];

/**
 * Kubernetes binaries built from the module proxy report `v0.0.0-master` unless stamped;
 * Helm's `kubeVersion` constraints and the node's kubeletVersion need the real one.
 */
const k8sVersionFlags = (() => {
  const [major, minor] = VERSIONS.kubernetes.replace(/^v/, '').split('.');
  const pkg = 'k8s.io/component-base/version';
  return [
    '-trimpath',
    `-ldflags=-s -w -X ${pkg}.gitVersion=${VERSIONS.kubernetes} -X ${pkg}.gitMajor=${major} -X ${pkg}.gitMinor=${minor} -X ${pkg}.gitTreeState=clean`,
  ];
})();

/** The Kubernetes binaries built from gomod/ (its go.mod lists each as a tool, pinning them). */
const K8S_COMMANDS = [
  'kube-apiserver',
  'kube-controller-manager',
  'kubectl',
  'kube-scheduler',
  'kubelet',
  'kube-proxy',
] as const;

/**
 * Builds (once per machine and version) and returns the Go-built servers.
 * A folder is used only once its `.complete` marker exists.
 */
export type GoBuild = 'ferretdb' | 'helm' | 'kubernetes';
const ALL_GO: readonly GoBuild[] = ['ferretdb', 'helm', 'kubernetes'];

export async function ensureGoBinaries(
  progress: Progress,
  want: readonly GoBuild[] = ALL_GO,
): Promise<
  Omit<Binaries, 'redisServer' | 'rabbitmqServer' | 'epmd' | 'prometheus' | 'promtool' | 'openssl'>
> {
  const root = cacheRoot();
  // The build recipe is part of the key: changing the commands or flags rebuilds.
  const k8sKey = createHash('sha256')
    .update(goCacheKey(gomodDir, ['go.mod', 'go.sum', 'etcd/main.go']))
    .update(JSON.stringify([K8S_COMMANDS, k8sVersionFlags]))
    .digest('hex')
    .slice(0, 12);
  const k8sDir = join(root, `kubernetes-${VERSIONS.kubernetes}-${k8sKey}`);
  const helmDir = join(root, `helm-${VERSIONS.helm}`);
  const ferretKey = goCacheKey(ferretModDir, ['go.mod', 'go.sum', 'main.go', 'patches.json']);
  const ferretDir = join(root, `ferretdb-${VERSIONS.ferretdb}-${ferretKey}`);
  const dirs: Record<GoBuild, string> = { ferretdb: ferretDir, helm: helmDir, kubernetes: k8sDir };
  const missing = (b: GoBuild): boolean =>
    want.includes(b) && !existsSync(join(dirs[b], '.complete'));
  const need = ALL_GO.filter(missing);
  if (need.length > 0) {
    try {
      execFileSync('go', ['version'], { stdio: 'ignore' });
    } catch (err) {
      throw new Error(
        'the Go toolchain (`go`) is needed to build the test servers; install Go 1.26+',
        {
          cause: err,
        },
      );
    }
    await withLock(
      root,
      async () => {
        if (missing('ferretdb')) {
          progress(
            `building FerretDB ${VERSIONS.ferretdb} from the Go module proxy (first run only)`,
          );
          mkdirSync(ferretDir, { recursive: true });
          const buildDir = patchedFerretModule(ferretDir);
          progress(
            `FerretDB: applied ${FERRET_PATCHES.length} patch(es) from ferretdb/patches.json`,
          );
          await run(
            'go',
            ['build', ...goBuildFlags, '-o', join(ferretDir, 'ferretdb'), '.'],
            { cwd: buildDir, env: goEnv(), what: 'FerretDB' },
            progress,
          );
          rmSync(join(ferretDir, 'src'), { recursive: true, force: true });
          rmSync(buildDir, { recursive: true, force: true });
          writeFileSync(join(ferretDir, '.complete'), new Date().toISOString());
        }
        if (missing('helm')) {
          progress(`building helm ${VERSIONS.helm} from the Go module proxy (first run only)`);
          mkdirSync(helmDir, { recursive: true });
          await run(
            'go',
            ['install', ...goBuildFlags, `helm.sh/helm/v3/cmd/helm@${VERSIONS.helm}`],
            { env: { ...goEnv(), GOBIN: helmDir }, what: 'helm' },
            progress,
          );
          writeFileSync(join(helmDir, '.complete'), new Date().toISOString());
        }
        if (missing('kubernetes')) {
          progress(
            `building etcd, ${K8S_COMMANDS.join(', ')} ${VERSIONS.kubernetes} ` +
              'from the Go module proxy (first run only: 10-40 minutes on 2 cores)',
          );
          mkdirSync(k8sDir, { recursive: true });
          await run(
            'go',
            [
              'build',
              ...k8sVersionFlags,
              '-o',
              k8sDir + '/',
              './etcd',
              ...K8S_COMMANDS.map((c) => `k8s.io/kubernetes/cmd/${c}`),
            ],
            { cwd: gomodDir, env: goEnv(), what: 'the Kubernetes control plane' },
            progress,
          );
          writeFileSync(join(k8sDir, '.complete'), new Date().toISOString());
        }
      },
      progress,
    );
  }
  return {
    etcd: join(k8sDir, 'etcd'),
    kubeApiserver: join(k8sDir, 'kube-apiserver'),
    kubeControllerManager: join(k8sDir, 'kube-controller-manager'),
    kubectl: join(k8sDir, 'kubectl'),
    kubeScheduler: join(k8sDir, 'kube-scheduler'),
    kubelet: join(k8sDir, 'kubelet'),
    kubeProxy: join(k8sDir, 'kube-proxy'),
    helm: join(helmDir, 'helm'),
    ferretdb: join(ferretDir, 'ferretdb'),
  };
}

/** Installs and builds everything `up` needs, and says where it is. */
export async function ensureBinaries(
  progress: Progress,
  want: readonly GoBuild[] = ALL_GO,
  debian: DebianSet = 'tests',
): Promise<Binaries> {
  ensureDebianPackages(progress, debian);
  const go = await ensureGoBinaries(progress, want);
  return {
    ...go,
    redisServer: DEBIAN['redis-server']!,
    rabbitmqServer: DEBIAN['rabbitmq-server']!,
    epmd: findEpmd(),
    prometheus: '/usr/bin/prometheus',
    promtool: '/usr/bin/promtool',
    openssl: '/usr/bin/openssl',
  };
}

function findEpmd(): string {
  for (const p of ['/usr/bin/epmd', '/usr/lib/erlang/bin/epmd']) if (existsSync(p)) return p;
  throw new Error('epmd (from erlang-base) not found; it comes with rabbitmq-server');
}

/** The node's add-ons, built once per machine like the control plane. */
export interface NodeBinaries {
  /** Static (CGO off), so its image needs nothing else. */
  coredns: string;
  /** Static as well. */
  localPath: string;
  /** The sandbox's pause process, compiled from the pause.c that ships in the Kubernetes module. */
  pause: string;
  /** The provisioner's own manifest from its pinned module (deploy/local-path-storage.yaml). */
  localPathManifest: string;
}

/** The folder of a module version in the Go module cache (downloaded if needed). */
function moduleDir(mod: string, cwd: string): string {
  const info = JSON.parse(
    execFileSync('go', ['mod', 'download', '-json', mod], {
      cwd,
      env: goEnv(),
      encoding: 'utf8',
    }),
  ) as { Dir?: string; Error?: string };
  if (!info.Dir) throw new Error(`go mod download ${mod} failed: ${info.Error ?? 'no Dir'}`);
  return info.Dir;
}

export async function ensureNodeBinaries(progress: Progress): Promise<NodeBinaries> {
  const root = cacheRoot();
  const dirs = {
    coredns: join(root, `coredns-${VERSIONS.coredns}`),
    localPath: join(root, `local-path-provisioner-${VERSIONS.localPath}`),
    pause: join(root, `pause-${VERSIONS.kubernetes}`),
  };
  const out: NodeBinaries = {
    coredns: join(dirs.coredns, 'coredns'),
    localPath: join(dirs.localPath, 'local-path-provisioner'),
    pause: join(dirs.pause, 'pause'),
    localPathManifest: join(dirs.localPath, 'local-path-storage.yaml'),
  };
  const need = (Object.keys(dirs) as (keyof typeof dirs)[]).filter(
    (k) => !existsSync(join(dirs[k], '.complete')),
  );
  if (need.length === 0) return out;
  await withLock(
    root,
    async () => {
      const staticEnv = { ...goEnv(), CGO_ENABLED: '0' };
      const installs: [keyof typeof dirs, string, string][] = [
        ['coredns', `github.com/coredns/coredns@${VERSIONS.coredns}`, 'CoreDNS'],
        [
          'localPath',
          `github.com/rancher/local-path-provisioner@${VERSIONS.localPath}`,
          'local-path-provisioner',
        ],
      ];
      for (const [key, mod, what] of installs) {
        if (existsSync(join(dirs[key], '.complete'))) continue;
        progress(`building ${what} from the Go module proxy (first run only, about 2 minutes)`);
        mkdirSync(dirs[key], { recursive: true });
        await run(
          'go',
          ['install', ...goBuildFlags, mod],
          { env: { ...staticEnv, GOBIN: dirs[key] }, what },
          progress,
        );
        if (key === 'localPath') {
          const src = moduleDir(
            `github.com/rancher/local-path-provisioner@${VERSIONS.localPath}`,
            root,
          );
          cpSync(join(src, 'deploy/local-path-storage.yaml'), out.localPathManifest);
        }
        writeFileSync(join(dirs[key], '.complete'), new Date().toISOString());
      }
      if (!existsSync(join(dirs.pause, '.complete'))) {
        const k8s = moduleDir(`k8s.io/kubernetes@${VERSIONS.kubernetes}`, gomodDir);
        mkdirSync(dirs.pause, { recursive: true });
        await run(
          'gcc',
          ['-Os', '-static', '-o', out.pause, join(k8s, 'build/pause/linux/pause.c')],
          { what: 'pause' },
          progress,
        );
        writeFileSync(join(dirs.pause, '.complete'), new Date().toISOString());
      }
    },
    progress,
  );
  return out;
}

/**
 * skaffold, built from its module source on first use only (`testenv skaffold`, the skaffold
 * cluster test): its go.mod has `replace` directives, so `go install module@version` refuses
 * it and the build runs inside the downloaded module instead. Static (CGO off) with the
 * release's own linux tags less `release` (which needs generated credits); the version is
 * stamped as skaffold's Makefile does, so `skaffold version` tells the truth.
 */
export async function ensureSkaffold(progress: Progress): Promise<string> {
  const mod = `github.com/GoogleContainerTools/skaffold/v2@${VERSIONS.skaffold}`;
  const flags = [
    '-trimpath',
    '-tags',
    'timetzdata osusergo netgo',
    `-ldflags=-s -w -X github.com/GoogleContainerTools/skaffold/v2/pkg/skaffold/version.version=${VERSIONS.skaffold}`,
  ];
  const key = createHash('sha256').update(JSON.stringify(flags)).digest('hex').slice(0, 12);
  const dir = join(cacheRoot(), `skaffold-${VERSIONS.skaffold}-${key}`);
  const bin = join(dir, 'skaffold');
  if (existsSync(join(dir, '.complete'))) return bin;
  await withLock(
    cacheRoot(),
    async () => {
      if (existsSync(join(dir, '.complete'))) return;
      progress(
        `building skaffold ${VERSIONS.skaffold} from the Go module proxy (first use only: ` +
          'several minutes on 2 cores)',
      );
      mkdirSync(dir, { recursive: true });
      const src = moduleDir(mod, cacheRoot());
      await run(
        'nice',
        ['-n', '10', 'go', 'build', ...flags, '-o', bin, './cmd/skaffold'],
        { cwd: src, env: { ...goEnv(), CGO_ENABLED: '0' }, what: 'skaffold' },
        progress,
      );
      writeFileSync(join(dir, '.complete'), new Date().toISOString());
    },
    progress,
  );
  return bin;
}
