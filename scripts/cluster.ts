/**
 * `npm run cluster`: Gossip on a local single-node Kubernetes, with one command (as root on
 * Linux). Starts the test environment's node in `.cluster/` (`testenv up --node`), builds the
 * images (`testenv images`: buildah, no registry), installs the operator from charts/gossip
 * with the chart's sample GossipCluster (`cluster.create`; managed stores on the stand-in
 * images), waits for it with progress lines, prints how to reach the api and the gateway and
 * how to point kubectl at it, and on Ctrl-C takes the node down, which restores the host.
 *
 *   npm run cluster                              all of the above
 *   npm run cluster -- --attach DIR [--namespace NS]
 *       into the node environment already running in DIR (for example the test suite's
 *       .testenv-node) with its images; Ctrl-C deletes only the namespace it made.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { namesFor, publicPorts, type Component } from '../cdk8s/src/constructs/naming.js';
import { WS_PATH } from '../packages/protocol/src/index.js';
import {
  LOCAL,
  productImage,
  standInImage,
  STAND_INS,
  type ProductImage,
} from '../packages/testenv/src/images.js';
import { repoRoot, stateFile, type TestEnv } from '../packages/testenv/src/state.js';

const say = (line: string): void => {
  process.stdout.write(`[cluster] ${line}\n`);
};

const COMPONENTS: readonly Component[] = ['api', 'gateway', 'engine', ...STAND_INS];
/** The tag `testenv images` gives the product images. */
const TAG = 'dev';

interface Options {
  /** A running node environment to install into instead of starting one. */
  attach?: string;
  namespace: string;
  name: string;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { namespace: 'gossip', name: 'demo' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (!v) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--attach') opts.attach = resolve(value());
    else if (a === '--namespace') opts.namespace = value();
    else if (a === '--name') opts.name = value();
    else throw new Error(`unknown argument ${a}; usage: npm run cluster [-- --attach DIR]`);
  }
  for (const v of [opts.namespace, opts.name]) {
    if (!/^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$/.test(v)) throw new Error(`not a DNS label: ${v}`);
  }
  return opts;
}

/** Why this machine cannot start a node of its own right now, if it cannot. */
function refusal(): string | undefined {
  if (process.platform !== 'linux') return 'the local cluster needs Linux';
  if (process.getuid?.() !== 0) {
    return 'the local cluster needs root (containerd, the kubelet, CNI and nftables); run it with sudo';
  }
  if (existsSync('/sys/class/net/cni0')) {
    return (
      'another node is already up on this machine (interface cni0 exists; one node per machine). ' +
      'Stop it with `GOSSIP_TESTENV_DIR=<its dir> npm run testenv -- down`, or install into it ' +
      'with `npm run cluster -- --attach <its dir>`'
    );
  }
  return undefined;
}

let child: ChildProcess | undefined;

/** Runs a command with our output, as `child` so that stop() can end it. */
function runChild(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((res) => {
    child = spawn(cmd, args, { cwd: repoRoot, env, stdio: 'inherit' });
    child.on('exit', (code) => {
      child = undefined;
      res(code ?? 1);
    });
  });
}

/** Runs the testenv CLI with `dir` as its state folder. */
const testenv = (dir: string, args: string[]): Promise<number> =>
  runChild(
    process.execPath,
    ['--import', 'tsx', join(repoRoot, 'packages/testenv/src/cli.ts'), ...args],
    { ...process.env, GOSSIP_TESTENV_DIR: dir },
  );

function readEnv(dir: string): TestEnv {
  const file = stateFile({ GOSSIP_TESTENV_DIR: dir });
  if (!existsSync(file)) throw new Error(`no test environment is up in ${dir} (no ${file})`);
  const env = JSON.parse(readFileSync(file, 'utf8')) as TestEnv;
  if (!env.node) throw new Error(`the environment in ${dir} has no node (\`up --node\`)`);
  return env;
}

const kubectl = (env: TestEnv, args: string[]): string =>
  execFileSync(env.bin.kubectl, ['--kubeconfig', env.kubeconfig, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });

/**
 * `helm install` of the operator from the chart the images were built with (the frozen copy
 * `testenv images` wrote, so the CRD matches the operator), with the chart's own sample
 * GossipCluster on those images and the stand-in stores. Waits for the operator to be Ready.
 */
async function installGossip(env: TestEnv, opts: Options): Promise<void> {
  const built = JSON.parse(readFileSync(join(env.dir, 'images.json'), 'utf8')) as {
    context: string;
  };
  const components = Object.fromEntries(
    (['api', 'gateway', 'engine'] as ProductImage[]).map((c) => [c, productImage(c, TAG)]),
  );
  const values = {
    image: {
      registry: LOCAL,
      repository: 'gossip/operator',
      tag: TAG,
      pullPolicy: 'Never',
    },
    cluster: {
      create: true,
      name: opts.name,
      spec: {
        image: { pullPolicy: 'Never', components },
        gateway: { minReplicas: 1, maxReplicas: 3 },
        ...Object.fromEntries(STAND_INS.map((s) => [s, { managed: { image: standInImage(s) } }])),
      },
    },
  };
  const file = join(env.dir, `cluster-values-${opts.namespace}.json`);
  writeFileSync(file, JSON.stringify(values, null, 2) + '\n');
  say(`helm install gossip ${join(built.context, 'charts/gossip')} -n ${opts.namespace}`);
  const code = await runChild(
    env.bin.helm,
    [
      'install',
      'gossip',
      join(built.context, 'charts/gossip'),
      '-n',
      opts.namespace,
      '--create-namespace',
      '-f',
      file,
      '--wait',
      '--timeout',
      '300s',
    ],
    { ...process.env, ...env.helmEnv },
  );
  if (code !== 0) throw new Error(`helm install failed (${code})`);
}

interface PodList {
  items: {
    metadata: { labels?: Record<string, string> };
    status: { conditions?: { type: string; status: string }[] };
  }[];
}
interface Cluster {
  status?: { conditions?: { type: string; status: string; reason?: string }[] };
}

/** Waits until every component has a Ready pod and the GossipCluster is Ready, saying what changes. */
async function waitReady(env: TestEnv, opts: Options, timeoutMs = 600_000): Promise<number> {
  const t0 = Date.now();
  let last = '';
  for (;;) {
    const pods = JSON.parse(
      kubectl(env, [
        '-n',
        opts.namespace,
        'get',
        'pods',
        '-l',
        `app.kubernetes.io/instance=${opts.name}`,
        '-o',
        'json',
      ]),
    ) as PodList;
    const readyComps = new Set(
      pods.items
        .filter((p) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
        .map((p) => p.metadata.labels?.['app.kubernetes.io/component']),
    );
    const gc = JSON.parse(
      kubectl(env, ['-n', opts.namespace, 'get', 'gossipcluster', opts.name, '-o', 'json']),
    ) as Cluster;
    const cond = gc.status?.conditions?.find((c) => c.type === 'Ready');
    const waiting = COMPONENTS.filter((c) => !readyComps.has(c));
    const line =
      `pods Ready: ${COMPONENTS.length - waiting.length}/${COMPONENTS.length}` +
      (waiting.length > 0 ? ` (waiting for ${waiting.join(', ')})` : '') +
      `; GossipCluster Ready ${cond?.status ?? 'Unknown'}${cond?.reason ? ` (${cond.reason})` : ''}`;
    const seconds = (Date.now() - t0) / 1000;
    if (line !== last) say(`${seconds.toFixed(0).padStart(4)} s  ${line}`);
    last = line;
    if (waiting.length === 0 && cond?.status === 'True') return seconds;
    if (Date.now() - t0 > timeoutMs) {
      throw new Error(
        `not Ready after ${timeoutMs / 1000} s; look with kubectl -n ${opts.namespace} get pods,events`,
      );
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** The api and gateway URLs (ClusterIPs, which kube-proxy makes reachable from this host). */
function printAccess(env: TestEnv, opts: Options): void {
  const ip = (c: 'api' | 'gateway'): string =>
    kubectl(env, [
      '-n',
      opts.namespace,
      'get',
      'svc',
      namesFor(opts.name).app(c),
      '-o',
      'jsonpath={.spec.clusterIP}',
    ]).trim();
  const api = `http://${ip('api')}:${publicPorts.api}`;
  const ws = `ws://${ip('gateway')}:${publicPorts.gateway}${WS_PATH}`;
  process.stdout.write(
    [
      '',
      `Gossip is running in namespace ${opts.namespace} (GossipCluster ${opts.name}):`,
      `  api      ${api}`,
      `  gateway  ${ws}`,
      `  e.g.     npx gossip register --server ${api} --user alice`,
      '',
      'Point kubectl at it:',
      `  export KUBECONFIG=${env.kubeconfig}`,
      `  alias kubectl=${env.bin.kubectl}`,
      `  kubectl get gossipclusters -n ${opts.namespace}`,
      '',
      kubectl(env, ['-n', opts.namespace, 'get', 'gossipclusters']).trimEnd(),
      '',
      'Ctrl-C stops it.',
      '',
    ].join('\n'),
  );
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  const dir = opts.attach ?? join(repoRoot, '.cluster');
  if (!opts.attach) {
    const why = refusal();
    if (why) {
      say(`refusing: ${why}`);
      return 1;
    }
  }
  let stopping = false;
  /** Set once this run starts changing something that `stop` must undo. */
  let started = false;
  /** Undoes what this run started: the namespace it made (attached) or the whole node. */
  const stop = async (code: number): Promise<never> => {
    // A second signal (or an error the first one caused) waits for the first stop to finish.
    if (stopping) return idle();
    stopping = true;
    say('stopping…');
    child?.kill('SIGTERM');
    // Let an interrupted `up` finish its own clean-up before `down` reads its state.
    while (child) await new Promise((r) => setTimeout(r, 200));
    if (!started) {
      // nothing to undo
    } else if (opts.attach) {
      try {
        kubectl(readEnv(dir), ['delete', 'namespace', opts.namespace, '--wait=false']);
        say(`deleted namespace ${opts.namespace}`);
      } catch (err) {
        say(`could not delete namespace ${opts.namespace}: ${String(err)}`);
      }
    } else {
      await testenv(dir, ['down']);
    }
    say('stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  try {
    const t0 = Date.now();
    if (!opts.attach) {
      mkdirSync(dir, { recursive: true });
      started = true;
      say(`starting a single-node Kubernetes in ${dir} (the first run builds it: many minutes)`);
      if ((await testenv(dir, ['up', '--node'])) !== 0) throw new Error('testenv up --node failed');
      if (stopping) return idle();
      say('building the images with buildah and importing them into the node');
      if ((await testenv(dir, ['images'])) !== 0) throw new Error('testenv images failed');
      if (stopping) return idle();
    }
    const env = readEnv(dir);
    started = true;
    await installGossip(env, opts);
    const seconds = await waitReady(env, opts);
    say(
      `Ready: ${seconds.toFixed(0)} s after helm install, ${((Date.now() - t0) / 1000).toFixed(0)} s in all`,
    );
    printAccess(env, opts);
  } catch (err) {
    if (stopping) return idle();
    say(err instanceof Error ? err.message : String(err));
    return stop(1);
  }
  return idle();
}

/**
 * Never resolves, and keeps Node running (a pending promise alone does not) until stop()
 * exits the process.
 */
function idle(): Promise<never> {
  setInterval(() => undefined, 1 << 30);
  return new Promise(() => undefined);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    say(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
