/**
 * `npm run testenv -- skaffold <skaffold args>`: runs skaffold (built on first use) against
 * the running node with everything its `testenv` profile needs and nothing from outside.
 *
 * skaffold's local builder asks a Docker Engine API for the id of every image it built (and
 * tags it `<repository>:<id>`) unless it pushes to a registry; there is neither a Docker
 * daemon nor a registry here. So for the length of the run `podman system service` serves
 * that API over buildah's own image storage, while the profile's custom builder builds with
 * buildah and imports into the node's containerd (`testenv build-image`).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { buildahArgs, buildahEnv } from './buildah.js';
import { buildAndImport, STAND_INS, standInImage, type StandIn } from './images.js';
import { alive, ensureDebianPackages, ensureSkaffold, type Progress } from './install.js';
import { ctr } from './node.js';
import { eventually } from './poll.js';
import { repoRoot, testEnv, type TestEnv } from './state.js';

/** `GET /_ping` on a Docker API socket answers 200 `OK`. */
function ping(socket: string): Promise<boolean> {
  return new Promise((res) => {
    const req = request({ socketPath: socket, path: '/_ping', timeout: 2000 }, (r) => {
      r.resume();
      res(r.statusCode === 200);
    });
    req.on('error', () => res(false));
    req.on('timeout', () => {
      req.destroy();
      res(false);
    });
    req.end();
  });
}

/** The Docker Engine API over buildah's storage; `stop()` ends it. */
async function startDockerApi(
  dir: string,
  progress: Progress,
): Promise<{ host: string; stop: () => Promise<void> }> {
  const socket = join(dir, 'docker.sock');
  rmSync(socket, { force: true });
  const child = spawn(
    'podman',
    [
      ...buildahArgs(),
      '--tmpdir',
      join(dir, 'podman-tmp'),
      '--cgroup-manager',
      'cgroupfs',
      '--events-backend',
      'file',
      'system',
      'service',
      '--time',
      '0',
      `unix://${socket}`,
    ],
    { env: buildahEnv(), stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-4000)));
  const stop = async (): Promise<void> => {
    if (child.pid === undefined || child.exitCode !== null) return;
    const gone = (): boolean => child.exitCode !== null || !alive(child.pid!);
    child.kill('SIGTERM');
    try {
      await eventually(gone, 'podman to stop on SIGTERM', 10_000);
    } catch {
      child.kill('SIGKILL');
      await eventually(gone, 'podman to stop on SIGKILL', 5_000);
    }
    rmSync(socket, { force: true });
  };
  try {
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`podman exited (${child.exitCode}): ${err}`);
        return ping(socket);
      },
      'the Docker API (podman system service) to answer /_ping',
      30_000,
      200,
    );
  } catch (e) {
    await stop();
    throw e;
  }
  progress(`Docker API for skaffold: podman system service on ${socket} (pid ${child.pid})`);
  return { host: `unix://${socket}`, stop };
}

/** The stand-in store images the sample GossipCluster runs, imported when containerd lacks one. */
async function ensureStandIns(state: TestEnv, progress: Progress): Promise<void> {
  const socket = state.node!.containerdSocket;
  const have = new Set(ctr(socket, ['images', 'ls', '-q']).split('\n'));
  const missing = STAND_INS.filter((s: StandIn) => !have.has(standInImage(s)));
  if (missing.length === 0) return;
  progress(`building the stand-in store images: ${missing.join(', ')}`);
  await buildAndImport(socket, 'dev', progress, { product: [], standIns: missing });
}

export interface SkaffoldResult {
  code: number;
  /** stdout and stderr together, in order (the last 200 kB). */
  output: string;
}

/**
 * Runs `skaffold <args>` against the running test environment's node (GOSSIP_TESTENV_DIR or
 * `.testenv/`): the environment's kubeconfig, kubectl and helm (with its helm folders), the
 * Docker API above, a global config of its own (no metrics, no update check, no survey), the
 * stand-in images present. `echo` also copies skaffold's output to stderr as it comes.
 */
export async function runSkaffold(
  args: string[],
  progress: Progress,
  opts: { echo?: boolean } = {},
): Promise<SkaffoldResult> {
  const state = testEnv();
  if (!state.node) throw new Error('no node: run `npm run testenv -- up --node` first');
  ensureDebianPackages(progress, 'skaffold');
  const skaffold = await ensureSkaffold(progress);
  await ensureStandIns(state, progress);
  const dir = join(state.dir, 'skaffold');
  mkdirSync(join(dir, 'podman-tmp'), { recursive: true });
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    [
      'global:',
      '  collect-metrics: false',
      '  update-check: false',
      '  survey:',
      '    disable-prompt: true',
      '',
    ].join('\n'),
  );
  const api = await startDockerApi(dir, progress);
  // Stopped (a test's time limit, Ctrl-C): skaffold gets the signal (it stops its build and
  // deploy children), the Docker API is stopped, and only then does this process end: an
  // interrupted run left the podman service running before.
  let signalled: NodeJS.Signals | undefined;
  let stopSkaffold = (sig: NodeJS.Signals): void => void sig;
  const onSignal = (sig: NodeJS.Signals): void => {
    signalled = sig;
    stopSkaffold(sig);
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    if (signalled) return { code: 1, output: `stopped by ${signalled}` };
    const child = spawn(skaffold, args, {
      cwd: repoRoot,
      env: {
        ...process.env,
        ...state.helmEnv,
        GOSSIP_TESTENV_DIR: state.dir,
        KUBECONFIG: state.kubeconfig,
        PATH: [dirname(state.bin.kubectl), dirname(state.bin.helm), process.env.PATH].join(':'),
        DOCKER_HOST: api.host,
        SKAFFOLD_CONFIG: config,
        SKAFFOLD_UPDATE_CHECK: 'false',
        SKAFFOLD_INTERACTIVE: 'false',
        // skaffold's artifact cache would skip a build whose image buildah's storage still
        // has, even when the node's containerd (a new node) lacks it; buildah's layer cache
        // keeps an unchanged rebuild short. `--cache-artifacts=true` overrides this.
        SKAFFOLD_CACHE_ARTIFACTS: 'false',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    stopSkaffold = (sig) => {
      child.kill(sig);
      setTimeout(() => child.kill('SIGKILL'), 20_000).unref();
    };
    let output = '';
    const take = (c: Buffer): void => {
      output = (output + c.toString()).slice(-200_000);
      if (opts.echo) process.stderr.write(c);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    const code = await new Promise<number>((res) => child.on('exit', (c) => res(c ?? 1)));
    return { code, output };
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await api.stop();
    if (signalled) process.exit(signalled === 'SIGINT' ? 130 : 143);
  }
}
