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

/** Which Debian packages to make sure of: the tests' full set, or only the stack's. */
export type DebianSet = 'tests' | 'stack';

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
  const missing = Object.entries(set === 'tests' ? DEBIAN : STACK_DEBIAN)
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
async function run(
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
async function withLock<T>(dir: string, fn: () => Promise<T>, progress: Progress): Promise<T> {
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
    return true;
  } catch {
    return false;
  }
}

function goEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GOFLAGS: '-buildvcs=false' };
}

const goBuildFlags = ['-trimpath', '-ldflags=-s -w'];

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
  const k8sKey = goCacheKey(gomodDir, ['go.mod', 'go.sum', 'etcd/main.go']);
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
            `building etcd, kube-apiserver, kube-controller-manager and kubectl ${VERSIONS.kubernetes} ` +
              'from the Go module proxy (first run only: 20-40 minutes on 2 cores)',
          );
          mkdirSync(k8sDir, { recursive: true });
          await run(
            'go',
            [
              'build',
              ...goBuildFlags,
              '-o',
              k8sDir + '/',
              './etcd',
              'k8s.io/kubernetes/cmd/kube-apiserver',
              'k8s.io/kubernetes/cmd/kube-controller-manager',
              'k8s.io/kubernetes/cmd/kubectl',
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
