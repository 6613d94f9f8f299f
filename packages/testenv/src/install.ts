/**
 * Gets the test servers onto the machine: Debian packages through apt (debian.ts), and the
 * Go-built servers (Kubernetes control plane, etcd, helm, FerretDB, the node's add-ons,
 * skaffold) compiled from the Go module proxy at pinned versions (versions.ts) into the
 * versioned cache outside the repo (build-cache.ts), so only the first run on a machine
 * pays for the build.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildOnce,
  built,
  cacheRoot,
  goCacheKey,
  goEnv,
  goInstall,
  moduleDir,
  run,
  type Progress,
} from './build-cache.js';
import { DEBIAN, ensureDebianPackages, type DebianSet } from './debian.js';
import { buildFerret, ferretFolder } from './ferretdb-build.js';
import { repoRoot } from './state.js';
import { VERSIONS } from './versions.js';

// What the other testenv modules have always imported from here.
export { alive } from './pid.js';
export { cacheRoot, run, withLock, type Progress } from './build-cache.js';
export { ensureDebianPackages, type DebianSet } from './debian.js';
export { VERSIONS } from './versions.js';

const gomodDir = join(repoRoot, 'packages/testenv/gomod');

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
  const ferretDir = join(root, ferretFolder());
  const dirs: Record<GoBuild, string> = { ferretdb: ferretDir, helm: helmDir, kubernetes: k8sDir };
  if (ALL_GO.some((b) => want.includes(b) && !built(dirs[b]))) {
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
  }
  if (want.includes('ferretdb')) {
    await buildOnce(
      ferretDir,
      {
        announce: `building FerretDB ${VERSIONS.ferretdb} from the Go module proxy (first run only)`,
      },
      () => buildFerret(ferretDir, progress),
      progress,
    );
  }
  if (want.includes('helm')) {
    await buildOnce(
      helmDir,
      { announce: `building helm ${VERSIONS.helm} from the Go module proxy (first run only)` },
      () =>
        goInstall(
          [`helm.sh/helm/v3/cmd/helm@${VERSIONS.helm}`],
          { gobin: helmDir, what: 'helm', cgo: true },
          progress,
        ),
      progress,
    );
  }
  if (want.includes('kubernetes')) {
    await buildOnce(
      k8sDir,
      {
        announce:
          `building etcd, ${K8S_COMMANDS.join(', ')} ${VERSIONS.kubernetes} ` +
          'from the Go module proxy (first run only: 10-40 minutes on 2 cores)',
      },
      () =>
        run(
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
        ),
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
  const localPathModule = `github.com/rancher/local-path-provisioner@${VERSIONS.localPath}`;
  const installs: [keyof typeof dirs, string, string][] = [
    ['coredns', `github.com/coredns/coredns@${VERSIONS.coredns}`, 'CoreDNS'],
    ['localPath', localPathModule, 'local-path-provisioner'],
  ];
  for (const [key, mod, what] of installs) {
    await buildOnce(
      dirs[key],
      { announce: `building ${what} from the Go module proxy (first run only, about 2 minutes)` },
      async () => {
        await goInstall([mod], { gobin: dirs[key], what }, progress);
        if (key === 'localPath') {
          const src = moduleDir(localPathModule, root);
          cpSync(join(src, 'deploy/local-path-storage.yaml'), out.localPathManifest);
        }
      },
      progress,
    );
  }
  await buildOnce(
    dirs.pause,
    {
      announce: `compiling pause from the Kubernetes ${VERSIONS.kubernetes} module (first run only)`,
    },
    async () => {
      const k8s = moduleDir(`k8s.io/kubernetes@${VERSIONS.kubernetes}`, gomodDir);
      await run(
        'gcc',
        ['-Os', '-static', '-o', out.pause, join(k8s, 'build/pause/linux/pause.c')],
        { what: 'pause' },
        progress,
      );
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
  await buildOnce(
    dir,
    {
      announce:
        `building skaffold ${VERSIONS.skaffold} from the Go module proxy (first use only: ` +
        'several minutes on 2 cores)',
    },
    () =>
      run(
        'nice',
        ['-n', '10', 'go', 'build', ...flags, '-o', bin, './cmd/skaffold'],
        { cwd: moduleDir(mod, cacheRoot()), env: goEnv({ CGO_ENABLED: '0' }), what: 'skaffold' },
        progress,
      ),
    progress,
  );
  return bin;
}
