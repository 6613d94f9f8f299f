/**
 * skaffold on the real node (issue 14 §4): `npm run testenv -- skaffold run -p
 * testenv,sample-cluster --namespace NS`, the command docs/development.md gives, builds the
 * four images of skaffold.yaml through the profile's custom builder (buildah, imported into
 * the node's containerd, no registry, no Docker daemon) and deploys the chart with the
 * profile's values: the operator pod and every pod of the chart's sample GossipCluster run
 * exactly the images skaffold says it deployed (its `Tags used in deployment`) and become Ready. With the
 * manifests unchanged since `testenv images` (the runner builds those first), every `npm ci`
 * step comes from buildah's layer cache. `skaffold delete` then removes the release and the
 * namespace's workloads go. However the run ends (a failure, this file's time limit), no
 * skaffold, podman service or buildah of it is left running, and nothing stays mounted in
 * buildah's storage.
 *
 * Needs `npm run testenv -- up --node` and `npm run testenv -- images` (the runner,
 * scripts/test-cluster.mjs, does both).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildahStorageDir, eventually, productContext, uniqueName } from '@gossip/testenv';
import { kubectl, repoRoot } from '../../src/index.js';
import {
  componentPods,
  diagnose,
  dropNamespace,
  env,
  json,
  pods,
  ready,
  reportFigures,
  requireNode,
  waitClusterReady,
} from './support.js';

const MIN = 60_000;
const ns = uniqueName('skaffold');
/** skaffold.yaml's sample-cluster profile names its GossipCluster so. */
const cluster = 'demo';
const profiles = 'testenv,sample-cluster';
const COMPONENTS = ['operator', 'api', 'gateway', 'engine'] as const;
const figures: string[] = [];
/** The Docker API socket `testenv skaffold` serves (packages/testenv/src/skaffold.ts). */
const dockerSocket = join(env.dir, 'skaffold', 'docker.sock');

/** The `testenv skaffold` runs started here (each in its own process group). */
const running = new Set<ChildProcess>();
/** Their process group ids, to find anything of theirs left afterwards. */
const groups: number[] = [];

function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, sig);
  } catch {
    // already gone
  }
}

// The runner stops a file that outlives its limit with SIGTERM to its process group; the
// skaffold runs are groups of their own, so pass it on before going.
const onSignal = (): void => {
  for (const c of running) killGroup(c, 'SIGTERM');
  process.exit(143);
};
process.once('SIGTERM', onSignal);

/**
 * `npm run testenv -- skaffold <args>` (the command a user runs), in a process group of its
 * own so that a time limit stops all of it: skaffold, its builders, buildah and podman.
 */
function testenvSkaffold(
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | string; output: string }> {
  return new Promise((res) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'packages/testenv/src/cli.ts', 'skaffold', ...args],
      {
        cwd: repoRoot,
        env: { ...process.env, GOSSIP_TESTENV_DIR: env.dir },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    );
    running.add(child);
    groups.push(child.pid!);
    let output = '';
    const take = (c: Buffer): void => {
      output = (output + c.toString()).slice(-400_000);
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    const timer = setTimeout(() => {
      output += `\n[test] skaffold ${args[0]} still running after ${timeoutMs / MIN} min: stopping its process group\n`;
      killGroup(child, 'SIGTERM');
      setTimeout(() => killGroup(child, 'SIGKILL'), 30_000).unref();
    }, timeoutMs);
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      running.delete(child);
      res({ code: code ?? sig ?? 'unknown', output });
    });
  });
}

/** Every process: pid, process group and command line. */
function processes(): { pid: number; pgrp: number; cmd: string }[] {
  const out: { pid: number; pgrp: number; cmd: string }[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    if (Number(pid) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      // stat: pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      out.push({ pid: Number(pid), pgrp, cmd });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Processes (pid and command line) whose command line mentions `needle`. */
const processesMentioning = (needle: string): string[] =>
  processes()
    .filter((p) => p.cmd.includes(needle))
    .map((p) => `${p.pid} ${p.cmd}`);

/** What is left of the process groups of the runs started here. */
const leftOfOurRuns = (): string[] =>
  processes()
    .filter((p) => groups.includes(p.pgrp))
    .map((p) => `${p.pid} ${p.cmd}`);

/** Mount points under buildah's storage (its layers are mounted only while a build runs). */
function buildahMounts(): string[] {
  const root = buildahStorageDir();
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(root + '/'));
}

/** sha256 of the files the Dockerfile's `npm ci` steps are keyed on, in a frozen tree. */
function manifestsDigest(tree: string): string {
  const h = createHash('sha256');
  const files = ['package.json', 'package-lock.json'];
  for (const d of readdirSync(tree, { withFileTypes: true }).filter((e) => e.isDirectory())) {
    if (d.name === 'node_modules' || d.name.startsWith('.')) continue;
    if (existsSync(join(tree, d.name, 'package.json'))) files.push(`${d.name}/package.json`);
    for (const e of readdirSync(join(tree, d.name), { withFileTypes: true })) {
      if (e.isDirectory() && existsSync(join(tree, d.name, e.name, 'package.json'))) {
        files.push(`${d.name}/${e.name}/package.json`);
      }
    }
  }
  for (const f of files.sort())
    h.update(`${f}\0`)
      .update(readFileSync(join(tree, f)))
      .update('\0');
  return h.digest('hex');
}

/** What the custom builder printed per image (packages/testenv/src/images.ts, buildForSkaffold). */
interface BuilderLine {
  names: string[];
  seconds: number;
  installs: { cached: number; steps: number };
  /** Tagged from the image `testenv images` imported (same id): no export, no import. */
  reused: boolean;
}

function builderLines(output: string): Map<string, BuilderLine> {
  const out = new Map<string, BuilderLine>();
  const re =
    /image (ghcr\.io\/gossip\/(\w+):\S+) \(also (\S+)\): (\d+) s, \d+ MB, npm ci (\d+) of (\d+) from the layer cache(, tagged from \S+)?/g;
  for (const m of output.matchAll(re)) {
    out.set(m[2]!, {
      names: [m[1]!, m[3]!],
      seconds: Number(m[4]),
      installs: { cached: Number(m[5]), steps: Number(m[6]) },
      reused: m[7] !== undefined,
    });
  }
  return out;
}

/** The run's results, for the tests after it. */
let run: { code: number | string; output: string } | undefined;
let startedAt = 0;
let endedAt = 0;
/** The tag skaffold deployed for each image. */
const tags = new Map<string, string>();

before(() => {
  requireNode();
  assert.deepEqual(processesMentioning(dockerSocket), [], 'a skaffold Docker API is already up');
});

after(async () => {
  process.off('SIGTERM', onSignal);
  for (const c of running) killGroup(c, 'SIGKILL');
  reportFigures('skaffold.cluster.ts', figures);
  if (!process.env.GOSSIP_CLUSTER_KEEP && run) {
    // Whatever the tests got to: the release goes (a no-op when the last test deleted it).
    await testenvSkaffold(['delete', '-p', profiles, '--namespace', ns], 5 * MIN);
  }
  dropNamespace(ns);
  // Nothing of the runs may outlive them: no podman service, no skaffold, no buildah.
  await eventually(
    () => processesMentioning(dockerSocket).length === 0,
    'the podman service to be gone',
    30_000,
    500,
  ).catch(() => undefined);
  assert.deepEqual(processesMentioning(dockerSocket), [], 'the podman service outlived skaffold');
  // A process of the runs can still be exiting here (ci7 saw one with an empty command
  // line, gone moments later): give them the same 30 s, then none may be left.
  await eventually(
    () => leftOfOurRuns().length === 0,
    'the processes of the skaffold runs to be gone',
    30_000,
    500,
  ).catch(() => undefined);
  assert.deepEqual(leftOfOurRuns(), [], 'processes of the skaffold runs are left');
  // Another build on the same (shared) storage would have its own mounts there meanwhile.
  const otherBuilds = processes().filter((p) => /^\S*buildah /.test(p.cmd));
  if (otherBuilds.length === 0) {
    assert.deepEqual(buildahMounts(), [], "mounts are left in buildah's storage");
  } else {
    figures.push(
      `(mounts in buildah's storage not checked: ${otherBuilds.length} other buildah running)`,
    );
  }
});

describe('skaffold run on the node', () => {
  test(
    'skaffold run -p testenv,sample-cluster exits 0, its custom builder built the four images with buildah (npm ci from the layer cache) and it deployed the tags it built',
    { timeout: 40 * MIN },
    async () => {
      startedAt = Date.now();
      run = await testenvSkaffold(['run', '-p', profiles, '--namespace', ns], 38 * MIN);
      endedAt = Date.now();
      figures.push(
        `skaffold run -p ${profiles}: ${((endedAt - startedAt) / 1000).toFixed(0)} s (exit ${run.code})`,
      );
      const lines = builderLines(run.output);
      for (const [c, b] of lines) {
        figures.push(
          `  ${c}: built in ${b.seconds} s, npm ci ${b.installs.cached} of ${b.installs.steps} from the layer cache${b.reused ? ', tagged from the testenv images one' : ''}`,
        );
      }
      assert.equal(run.code, 0, `skaffold run failed:\n${run.output.slice(-8000)}`);

      // skaffold's own account of what it deployed: after the builds it prints
      // `Tags used in deployment:` and ` - <image> -> <tag>` for each.
      for (const m of run.output.matchAll(/^ - ghcr\.io\/gossip\/(\w+) -> (\S+)$/gm)) {
        tags.set(m[1]!, m[2]!);
        figures.push(`  deployed ${m[2]}`);
      }
      assert.deepEqual(
        [...tags.keys()].sort(),
        [...COMPONENTS].sort(),
        `skaffold's tags:\n${run.output.slice(-8000)}`,
      );

      assert.deepEqual(
        [...lines.keys()].sort(),
        [...COMPONENTS].sort(),
        `the custom builder's lines:\n${run.output.slice(-8000)}`,
      );
      // The Dockerfile's two installs (the full one for the bundle, the workspace's
      // production one) come from the layer cache when the manifests are what `testenv
      // images` built from (another commit may have changed one since: then they ran again).
      const sameManifests =
        manifestsDigest(productContext()) ===
        manifestsDigest(join(productContext(), '..', 'skaffold'));
      for (const [c, b] of lines) {
        assert.equal(b.installs.steps, 2, `${c}: ${b.installs.steps} npm ci steps`);
        if (sameManifests) assert.equal(b.installs.cached, 2, `${c}: npm ci ran again`);
        // skaffold deployed one of the two names the builder gave the image.
        assert.ok(b.names.includes(tags.get(c)!), `${c}: ${tags.get(c)} not in ${b.names}`);
      }
      if (!sameManifests) figures.push('  (manifests changed since `testenv images`)');
    },
  );

  test('the operator pod and every pod of GossipCluster demo are Ready on exactly the images skaffold built', async () => {
    assert.equal(run?.code, 0, 'skaffold run did not succeed');
    // skaffold's status check waited for the operator Deployment.
    const operator = pods(ns, 'app.kubernetes.io/component=operator');
    assert.equal(operator.length, 1, diagnose(ns));
    for (const p of operator) {
      assert.ok(ready(p), `${p.metadata.name} not Ready\n${diagnose(ns)}`);
      assert.deepEqual(
        p.spec?.containers.map((c) => c.image),
        [tags.get('operator')],
      );
    }
    const times = await waitClusterReady(ns, cluster, startedAt);
    figures.push(
      `GossipCluster ${cluster}: every pod Ready ${times.podsReady.toFixed(1)} s and Ready True ${times.clusterReady.toFixed(1)} s after skaffold run started (${((Date.now() - endedAt) / 1000).toFixed(1)} s after it ended)`,
    );
    for (const c of ['api', 'gateway', 'engine'] as const) {
      const ps = componentPods(ns, cluster, c);
      assert.ok(ps.length > 0, `${c}: no pod\n${diagnose(ns)}`);
      for (const p of ps) {
        assert.ok(ready(p), `${p.metadata.name} not Ready\n${diagnose(ns)}`);
        assert.deepEqual(
          p.spec?.containers.map((x) => x.image),
          [tags.get(c)],
          p.metadata.name,
        );
      }
    }
  });

  test('skaffold delete removes the release: the namespace has no workloads left', async () => {
    assert.equal(run?.code, 0, 'skaffold run did not succeed');
    const del = await testenvSkaffold(['delete', '-p', profiles, '--namespace', ns], 5 * MIN);
    assert.equal(del.code, 0, `skaffold delete failed:\n${del.output.slice(-6000)}`);
    const left = (): string[] =>
      json<{ items: { kind: string; metadata: { name: string } }[] }>([
        '-n',
        ns,
        'get',
        'gossipclusters,deployments,statefulsets,pods,services',
      ]).items.map((o) => `${o.kind}/${o.metadata.name}`);
    await eventually(
      () => left().length === 0,
      `the workloads of ${ns} to go`,
      3 * MIN,
      1000,
    ).catch(() => undefined);
    assert.deepEqual(left(), [], `workloads left in ${ns}`);
    assert.equal(
      kubectl(['get', 'namespace', ns, '-o', 'name']).stdout.trim(),
      `namespace/${ns}`,
      'skaffold delete removes the release, not the namespace',
    );
  });
});
