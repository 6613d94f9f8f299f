/**
 * `npm run testenv -- up | down | status | env`: installs, builds and starts the
 * real servers the tests use, on loopback, each with its own free port and data
 * folder under the run's state folder (`.testenv/` or $GOSSIP_TESTENV_DIR).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { existsSync } from 'node:fs';
import { restoreHost, snapshotHost, type HostSnapshot } from './host.js';
import { alive, ensureBinaries, ensureNodeBinaries, ensureSkaffold, VERSIONS } from './install.js';
import { startControlPlane } from './kube.js';
import { ensureKubePrometheus } from './kube-prometheus.js';
import { ensurePolicyController } from './policy-controller.js';
import {
  ensureNodeImages,
  NODE_NET,
  nodeControlPlane,
  nodePaths,
  startNode,
  type NodeHandle,
} from './node.js';
import {
  startFerret,
  startPrometheus,
  startRabbit,
  startRedis,
  tcpOpen,
  type Ctx,
} from './servers.js';
import { stateDir, stateFile, type ServerRecord, type TestEnv } from './state.js';

const log = (line: string): void => {
  process.stderr.write(`[testenv] ${line}\n`);
};

function readState(): TestEnv | undefined {
  try {
    return JSON.parse(readFileSync(stateFile(), 'utf8')) as TestEnv;
  } catch {
    return undefined;
  }
}

function pids(rec: ServerRecord): number[] {
  return [rec.pid, ...(rec.extraPids ?? [])];
}

/** The host as it was before a node started; present while a node may have changed it. */
const hostBeforeFile = (): string => join(stateDir(), 'host-before.json');

/** Puts the host back as it was before the node, if a node ran (also after a crash). */
async function restoreAfterNode(): Promise<void> {
  const file = hostBeforeFile();
  if (!existsSync(file)) return;
  const before = JSON.parse(readFileSync(file, 'utf8')) as HostSnapshot;
  const p = nodePaths(join(stateDir(), 'data'));
  const left = await restoreHost(before, {
    nodeDir: p.root,
    containerdSocket: p.containerdSocket,
    cidrs: [NODE_NET.clusterCidr, NODE_NET.serviceCidr],
    log,
  });
  if (left.length > 0) {
    log(`the host differs from before the node in ${left.length} way(s):\n  ${left.join('\n  ')}`);
  } else {
    log(
      'host restored: sysctls, nft tables, interfaces, mounts, cgroups and folders as before the node',
    );
  }
  rmSync(file, { force: true });
}

/**
 * Installs and builds what `up` (with `--node`, the node's parts too) needs, starting
 * nothing: a first run's minutes of Go builds happen here, under their own time limit,
 * not inside a test's `up`. With `--images` (implies `--node`), also what the cluster
 * suite builds after the node is up: skaffold, and the project's images and the store
 * stand-ins (buildah, exported into the cache, imported into no node: `testenv images`
 * then finds every layer built): a fresh machine's whole build, ahead of a cluster run.
 */
async function prepare(withNode: boolean, withImages: boolean): Promise<void> {
  const started = Date.now();
  const node = withNode || withImages;
  await ensureBinaries(log, undefined, node ? 'node' : 'tests');
  if (node) {
    const nodeBin = await ensureNodeBinaries(log);
    await ensureKubePrometheus(log);
    await ensureNodeImages(nodeBin, log);
    await ensurePolicyController(log);
  }
  if (withImages) {
    await ensureSkaffold(log);
    const { buildAndImport } = await import('./images.js');
    const built = await buildAndImport(undefined, 'dev', log);
    log(`${built.length} images built and exported (no node: nothing imported)`);
  }
  log(
    `prepared${withImages ? ' (with the node and the images)' : node ? ' (with the node)' : ''} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}

async function up(withNode: boolean): Promise<void> {
  const existing = readState();
  if (existing && existing.servers.every((s) => pids(s).every(alive))) {
    log(`already up (${stateFile()}); \`npm run testenv -- down\` stops it`);
    return;
  }
  if (existing) {
    log('a previous run left dead servers behind; cleaning up first');
    await down();
  }
  // A node that crashed before its state was written still changed the host.
  if (existsSync(hostBeforeFile())) {
    log('a previous node left host changes behind; undoing them first');
    await restoreAfterNode();
  }
  const started = Date.now();
  const bin = await ensureBinaries(log, undefined, withNode ? 'node' : 'tests');
  const dir = stateDir();
  const ctx: Ctx = { bin, dataDir: join(dir, 'data'), logDir: join(dir, 'logs') };
  const nodeCp = withNode ? nodeControlPlane() : undefined;
  let nodeBin: Awaited<ReturnType<typeof ensureNodeBinaries>> | undefined;
  let nodeImages: string[] = [];
  if (withNode) {
    nodeBin = await ensureNodeBinaries(log);
    // Built here, not in the Prometheus cluster test, so the build counts against `up`.
    await ensureKubePrometheus(log);
    nodeImages = await ensureNodeImages(nodeBin, log);
    mkdirSync(dir, { recursive: true });
    writeFileSync(hostBeforeFile(), JSON.stringify(snapshotHost()) + '\n');
  }
  rmSync(ctx.dataDir, { recursive: true, force: true });
  mkdirSync(ctx.dataDir, { recursive: true });
  mkdirSync(join(dir, 'scratch'), { recursive: true });
  log('starting Redis, RabbitMQ, FerretDB, Prometheus and the Kubernetes control plane');

  const servers: ServerRecord[] = [];
  const track = <T extends { rec?: ServerRecord; recs?: ServerRecord[] }>(
    p: Promise<T>,
  ): Promise<T> =>
    p.then((r) => {
      if (r.rec) servers.push(r.rec);
      if (r.recs) servers.push(...r.recs);
      return r;
    });
  const results = await Promise.allSettled([
    track(startRedis(ctx)),
    track(startRabbit(ctx)),
    track(startFerret(ctx)),
    track(startPrometheus(ctx)),
    track(startControlPlane(ctx, nodeCp)),
  ]);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length > 0) {
    for (const f of failed) log(String(f.reason instanceof Error ? f.reason.message : f.reason));
    // Leave nothing running behind a failed start; the logs stay for reading.
    await stopAll(servers);
    await restoreAfterNode();
    throw new Error(`${failed.length} server(s) failed to start; logs are in ${ctx.logDir}`);
  }
  const [redis, rabbit, ferret, prom, kube] = results.map(
    (r) => (r as PromiseFulfilledResult<unknown>).value,
  ) as [
    Awaited<ReturnType<typeof startRedis>>,
    Awaited<ReturnType<typeof startRabbit>>,
    Awaited<ReturnType<typeof startFerret>>,
    Awaited<ReturnType<typeof startPrometheus>>,
    Awaited<ReturnType<typeof startControlPlane>>,
  ];
  let node: NodeHandle | undefined;
  let nodeSeconds = 0;
  if (nodeCp && nodeBin) {
    const t0 = Date.now();
    log(
      `starting the node ${nodeCp.name} at ${nodeCp.ip}: containerd, kube-scheduler, kubelet, kube-proxy, CoreDNS, local-path`,
    );
    try {
      node = await startNode(ctx, kube, nodeCp, nodeBin, nodeImages, log);
      servers.push(...node.recs);
    } catch (err) {
      await stopAll(servers);
      await restoreAfterNode();
      throw err;
    }
    nodeSeconds = (Date.now() - t0) / 1000;
    log(`node Ready with CoreDNS in ${nodeSeconds.toFixed(1)} s (after the control plane)`);
  }
  const helmHome = join(dir, 'helm');
  const state: TestEnv = {
    redisUrl: redis.url,
    amqpUrl: rabbit.url,
    mongoUrl: ferret.url,
    prometheusUrl: prom.url,
    prometheusTargetsDir: prom.targetsDir,
    kubeApiUrl: kube.apiUrl,
    kubeconfig: kube.kubeconfig,
    bin: { kubectl: bin.kubectl, helm: bin.helm, promtool: bin.promtool, etcd: bin.etcd },
    helmEnv: {
      HELM_CACHE_HOME: join(helmHome, 'cache'),
      HELM_CONFIG_HOME: join(helmHome, 'config'),
      HELM_DATA_HOME: join(helmHome, 'data'),
      KUBECONFIG: kube.kubeconfig,
    },
    dir,
    servers,
    ...(node
      ? {
          node: {
            name: node.nodeName,
            ip: node.nodeIp,
            containerdSocket: node.containerdSocket,
            startSeconds: nodeSeconds,
          },
        }
      : {}),
  };
  writeFileSync(stateFile(), JSON.stringify(state, null, 2) + '\n');
  log(`up in ${Math.round((Date.now() - started) / 1000)} s; state in ${stateFile()}`);
}

async function stopAll(servers: ServerRecord[]): Promise<void> {
  // Reverse start order: the controller manager before the apiserver before etcd.
  const order = [...servers].reverse();
  for (const s of order) {
    for (const pid of pids(s)) signalGroup(pid, 'SIGTERM');
  }
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && order.some((s) => pids(s).some(alive))) await sleep(200);
  for (const s of order) {
    for (const pid of pids(s)) if (alive(pid)) signalGroup(pid, 'SIGKILL');
  }
}

/** Each server was started detached as its own process group: signal the whole group. */
function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

async function down(): Promise<void> {
  const state = readState();
  if (!state) {
    await restoreAfterNode();
    log('not up');
    return;
  }
  await stopAll(state.servers);
  // Before the data folder goes: the node's mounts live under it.
  await restoreAfterNode();
  rmSync(stateFile(), { force: true });
  rmSync(join(state.dir, 'data'), { recursive: true, force: true });
  log(`stopped ${state.servers.length} servers`);
}

async function status(): Promise<number> {
  const state = readState();
  if (!state) {
    console.log('not up');
    return 1;
  }
  let ok = true;
  for (const s of state.servers) {
    const up = pids(s).every(alive);
    ok &&= up;
    console.log(
      `${s.name.padEnd(24)} pid ${String(s.pid).padEnd(8)} ${up ? 'running' : 'DEAD'}  ${s.log}`,
    );
  }
  for (const [name, url] of [
    ['redis', state.redisUrl],
    ['rabbitmq', state.amqpUrl],
    ['ferretdb', state.mongoUrl],
    ['prometheus', state.prometheusUrl],
    ['kube-apiserver', state.kubeApiUrl],
  ] as const) {
    const u = new URL(url);
    // With a node the apiserver listens on the host's address, not on loopback.
    const open = await tcpOpen(Number(u.port), u.hostname);
    ok &&= open;
    console.log(
      `${name.padEnd(24)} ${url.replace(/\/\/[^@]*@/, '//')} ${open ? 'reachable' : 'NOT REACHABLE'}`,
    );
  }
  return ok ? 0 : 1;
}

/**
 * Builds the project's images and the store stand-ins with buildah and imports them into
 * the running node's containerd; writes what was built (names, seconds, sizes) to
 * images.json in the run's folder for the cluster tests.
 */
async function images(): Promise<number> {
  const state = readState();
  if (!state?.node) {
    console.error('no node: run `npm run testenv -- up --node` first');
    return 1;
  }
  const { buildAndImport, productContext } = await import('./images.js');
  const started = Date.now();
  const built = await buildAndImport(state.node.containerdSocket, 'dev', log);
  writeFileSync(
    join(state.dir, 'images.json'),
    JSON.stringify({ context: productContext(), images: built }, null, 2) + '\n',
  );
  log(
    `${built.length} images built and imported in ${Math.round((Date.now() - started) / 1000)} s`,
  );
  return 0;
}

/**
 * skaffold's custom builder for the `testenv` profile: `build-image <operator|api|gateway|engine>`
 * builds that image under the name skaffold gives in $IMAGE (or the second argument) and
 * imports it into the node's containerd.
 */
async function buildImage(which: string | undefined, name: string | undefined): Promise<number> {
  const { buildForSkaffold, PRODUCT_IMAGES } = await import('./images.js');
  const state = readState();
  if (!state?.node) {
    console.error('no node: run `npm run testenv -- up --node` first');
    return 1;
  }
  if (!which || !(which in PRODUCT_IMAGES) || !name) {
    console.error(
      `usage: build-image <${Object.keys(PRODUCT_IMAGES).join('|')}> [image] (or $IMAGE)`,
    );
    return 2;
  }
  await buildForSkaffold(
    state.node.containerdSocket,
    which as keyof typeof PRODUCT_IMAGES,
    name,
    log,
  );
  return 0;
}

async function skaffold(args: string[]): Promise<number> {
  const { runSkaffold } = await import('./skaffold.js');
  const res = await runSkaffold(args, log, { echo: true });
  return res.code;
}

function printEnv(): number {
  const state = readState();
  if (!state) {
    console.error('not up: run `npm run testenv -- up`');
    return 1;
  }
  const vars: Record<string, string> = {
    GOSSIP_REDIS_URL: state.redisUrl,
    GOSSIP_AMQP_URL: state.amqpUrl,
    GOSSIP_MONGO_URL: state.mongoUrl,
    GOSSIP_PROMETHEUS_URL: state.prometheusUrl,
    KUBECONFIG: state.kubeconfig,
    GOSSIP_KUBECTL: state.bin.kubectl,
    GOSSIP_HELM: state.bin.helm,
  };
  for (const [k, v] of Object.entries(vars)) console.log(`export ${k}='${v}'`);
  return 0;
}

const usage = `usage: npm run testenv -- <command>
  prepare [--node]   only install and build what \`up\` [--node] needs (first run: minutes), start nothing
  prepare --images   also skaffold and the images \`images\` builds (built and exported, no node needed)
  up      install (apt), build (Go, cached in ~/.cache/gossip-testenv) and start every test server
  up --node   also a real Kubernetes node (containerd, kubelet, kube-proxy, CoreDNS, local-path; root only)
  down    stop exactly the servers \`up\` started (by pid) and remove their data
  status  show each server's pid and whether it is reachable
  env     print shell exports of the connection strings
  images  build the project's images and the store stand-ins (buildah) into the node's containerd
  skaffold <args>   run skaffold (built on first use) against the node, e.g. \`skaffold run -p testenv\`
  build-image <operator|api|gateway|engine> [image]   the testenv profile's custom builder ($IMAGE)
versions: Kubernetes ${VERSIONS.kubernetes} (etcd from its go.mod), helm ${VERSIONS.helm}, FerretDB ${VERSIONS.ferretdb}, CoreDNS ${VERSIONS.coredns}, local-path-provisioner ${VERSIONS.localPath}, skaffold ${VERSIONS.skaffold}`;

async function main(): Promise<number> {
  const cmd = process.argv[2];
  switch (cmd) {
    case 'prepare':
      await prepare(process.argv.includes('--node'), process.argv.includes('--images'));
      return 0;
    case 'up':
      await up(process.argv.includes('--node'));
      return 0;
    case 'down':
      await down();
      return 0;
    case 'status':
      return status();
    case 'env':
      return printEnv();
    case 'images':
      return images();
    case 'skaffold':
      return skaffold(process.argv.slice(3));
    case 'build-image':
      return buildImage(process.argv[3], process.argv[4] ?? process.env.IMAGE);
    default:
      console.error(usage);
      return cmd === undefined || cmd === '--help' || cmd === '-h' ? 0 : 2;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
