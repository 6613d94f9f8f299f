/**
 * The one Dockerfile, .dockerignore and skaffold.yaml, linted for the rules the issue sets: multi-
 * stage, a pinned Node base image, production dependencies only, a non-root user, no
 * HEALTHCHECK; skaffold declares a known schema version, builds the four images from
 * Dockerfiles and contexts that exist and deploys through the chart, with a dev profile that
 * syncs files, a profile that creates a sample GossipCluster and a testenv profile that builds
 * with buildah into the test node. These are static checks of the files; skaffold itself runs
 * in test/cluster/skaffold.cluster.ts.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import {
  DOCKERFILE,
  PRODUCT_IMAGES,
  STAND_INS,
  standInImage,
  type ProductImage,
} from '@gossip/testenv';
import { chartDir, repoRoot } from '../src/index.js';

/**
 * Image name, the workspace it is built from, and the ports its service listens on (the shared
 * contract): the main one, then the ops listener where it is a port of its own (cdk8s
 * `opsPorts`). All four come from the one Dockerfile (issue 15 §4).
 */
const images = [
  { image: 'ghcr.io/gossip/operator', name: 'operator', workspace: 'operator', ports: [8080] },
  { image: 'ghcr.io/gossip/api', name: 'api', workspace: 'services/api', ports: [8080, 9090] },
  {
    image: 'ghcr.io/gossip/gateway',
    name: 'gateway',
    workspace: 'services/gateway',
    ports: [8081, 9092],
  },
  { image: 'ghcr.io/gossip/engine', name: 'engine', workspace: 'services/engine', ports: [9091] },
] as const;

/** The build arguments that pick an image's program out of the Dockerfile. */
const buildArgsOf = (i: (typeof images)[number]): Record<string, string> => ({
  WORKSPACE: i.workspace,
  PORTS: i.ports.join(' '),
});

/** `${NAME}` / `$NAME` replaced by the build argument's value (as the builder does). */
const expand = (text: string, args: Record<string, string>): string =>
  text.replace(/\$\{(\w+)\}|\$(\w+)/g, (all, a?: string, b?: string) => args[a ?? b ?? ''] ?? all);

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions with line continuations joined and comments dropped. */
function instructions(text: string): Instruction[] {
  const joined = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map((l) => {
      const m = /^(\w+)\s+(.*)$/.exec(l);
      assert.ok(m, `not an instruction: ${l}`);
      return { op: (m[1] ?? '').toUpperCase(), args: m[2] ?? '' };
    });
}

/** Splits instructions into stages (everything before the first FROM is the global ARGs). */
function stages(ins: Instruction[]): { from: string; name?: string; body: Instruction[] }[] {
  const out: { from: string; name?: string; body: Instruction[] }[] = [];
  for (const i of ins) {
    if (i.op === 'FROM') {
      const m = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(i.args);
      assert.ok(m, `bad FROM ${i.args}`);
      out.push({ from: m[1] ?? '', name: m[2], body: [] });
    } else {
      out.at(-1)?.body.push(i);
    }
  }
  return out;
}

describe('Dockerfile', () => {
  for (const want of images) {
    const { name, ports } = want;
    test(`${DOCKERFILE} for ${name}: multi-stage, pinned node:20 slim, prod deps only, non-root, no HEALTHCHECK`, () => {
      const text = readFileSync(join(repoRoot, DOCKERFILE), 'utf8');
      const ins = instructions(text);
      const args = buildArgsOf(want);
      // The test environment builds each image with these arguments.
      assert.deepEqual({ ...PRODUCT_IMAGES[name] }, args, `PRODUCT_IMAGES.${name}`);
      assert.ok(!ins.some((i) => i.op === 'HEALTHCHECK'), 'no HEALTHCHECK: Kubernetes probes');

      // The base image: one ARG default, an exact Node 20 patch release on bookworm-slim,
      // pinned by digest with the tag beside it (issue 13 §6).
      const arg = ins.find((i) => i.op === 'ARG' && i.args.startsWith('NODE_IMAGE='));
      assert.ok(arg, 'ARG NODE_IMAGE=<pinned image>');
      assert.match(
        arg.args,
        /^NODE_IMAGE=node:20\.\d+\.\d+-bookworm-slim@sha256:[a-f0-9]{64}$/,
        'an exact node:20.x.y-bookworm-slim tag with its digest',
      );
      const st = stages(ins);
      assert.ok(st.length >= 2, 'multi-stage');
      const names = new Set(st.map((s) => s.name).filter(Boolean));
      for (const s of st) {
        assert.ok(
          s.from === '${NODE_IMAGE}' || names.has(s.from),
          `FROM ${s.from}: every stage starts from the pinned image or an earlier stage`,
        );
      }

      // The runtime stage is the last one: it copies built output and production modules only.
      const final = st.at(-1);
      assert.ok(final);
      assert.equal(final.name, undefined, 'the final (default) stage is the runtime one');
      assert.equal(
        final.from,
        '${NODE_IMAGE}',
        'the runtime starts from the slim base, not a build stage',
      );
      const copies = final.body.filter((i) => i.op === 'COPY');
      assert.ok(copies.length > 0);
      for (const c of copies) {
        assert.match(c.args, /--from=\S+/, `runtime COPY ${c.args} takes only stage output`);
      }
      assert.ok(
        !final.body.some((i) => i.op === 'RUN' && /\bnpm\b/.test(i.args)),
        'no npm at runtime',
      );
      const modulesFrom = /--from=(\S+)\s+(?:--\S+\s+)*\S*node_modules/.exec(
        copies.map((c) => c.args).join('\n'),
      )?.[1];
      assert.ok(modulesFrom, 'the runtime copies node_modules from a stage');
      const depsStage = st.find((s) => s.name === modulesFrom);
      assert.ok(depsStage, `stage ${modulesFrom}`);
      const install = depsStage.body.find((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args));
      assert.ok(install, `${modulesFrom} runs npm ci`);
      assert.match(install.args, /npm ci [^&]*--omit=dev/, 'production dependencies only');

      // Non-root: a numeric, non-zero USER in the runtime stage (runAsNonRoot can check it).
      const user = final.body.filter((i) => i.op === 'USER').at(-1);
      assert.ok(user, 'USER in the runtime stage');
      assert.match(user.args, /^[1-9]\d*(:[1-9]\d*)?$/, 'a numeric non-root uid');
      // Exec-form entry point so the process gets SIGTERM directly.
      const entry = final.body.find((i) => i.op === 'ENTRYPOINT' || i.op === 'CMD');
      assert.ok(entry && entry.args.startsWith('['), 'exec-form ENTRYPOINT');
      const expose = final.body.find((i) => i.op === 'EXPOSE');
      assert.ok(
        final.body.some((i) => i.op === 'ARG' && i.args === 'PORTS'),
        'ARG PORTS in the runtime stage',
      );
      assert.equal(expand(expose?.args ?? '', args), ports.join(' '));

      // What the build stage bundles exists: WORKSPACE/ENTRY, ENTRY defaulting to src/main.ts.
      assert.match(
        text,
        /entryPoints: \[process\.env\.WORKSPACE \+ '\/' \+ process\.env\.ENTRY\]/,
        'the esbuild entry point',
      );
      const entryArg = ins.find((i) => i.op === 'ARG' && i.args.startsWith('ENTRY='))?.args;
      assert.equal(entryArg, 'ENTRY=src/main.ts');
      const bundled = join(args.WORKSPACE ?? '', 'src/main.ts');
      assert.ok(existsSync(join(repoRoot, bundled)), `${bundled} does not exist yet`);
      // The production install is of this workspace.
      assert.match(
        ins.find((i) => i.op === 'RUN' && /--omit=dev/.test(i.args))?.args ?? '',
        /--workspace "\$WORKSPACE"/,
      );
      assert.ok(existsSync(join(repoRoot, args.WORKSPACE ?? '', 'package.json')));
    });
  }

  test('one Dockerfile: no per-program copies, one pinned base (one tag, one digest)', () => {
    for (const { workspace } of images) {
      assert.ok(!existsSync(join(repoRoot, workspace, 'Dockerfile')), `${workspace}/Dockerfile`);
    }
    const ins = instructions(readFileSync(join(repoRoot, DOCKERFILE), 'utf8'));
    const bases = ins.filter((i) => i.op === 'ARG' && i.args.startsWith('NODE_IMAGE='));
    assert.equal(bases.length, 1, bases.map((b) => b.args).join(', '));
  });

  test('the installs read only the manifests (lockfile, every workspace package.json), not the sources', () => {
    const st = stages(instructions(readFileSync(join(repoRoot, DOCKERFILE), 'utf8')));
    const byName = new Map(st.map((s) => [s.name, s]));
    /** A stage's instructions after those of the stages it is built on. */
    const chain = (s: (typeof st)[number]): Instruction[] => {
      const parent = byName.get(s.from);
      return parent ? [...chain(parent), ...s.body] : s.body;
    };
    let installs = 0;
    for (const s of st) {
      const body = chain(s);
      const ci = body.findIndex((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args));
      if (ci === -1) continue;
      installs++;
      // A COPY from the build context before the install would make every source change
      // install the dependencies again; only another stage's output (the manifests) may come.
      const fromContext = body
        .slice(0, ci)
        .filter((i) => i.op === 'COPY' && !/--from=/.test(i.args));
      assert.deepEqual(
        fromContext.map((i) => i.args),
        [],
        `stage ${s.name ?? '(last)'}: npm ci after a COPY of the build context`,
      );
    }
    assert.ok(installs >= 2, 'the full install (bundle) and the production one');

    // What the manifests stage keeps (`cp --parents <globs> <dest>`) covers the root manifests
    // and the package.json of every workspace the root package.json lists.
    const pick = st
      .flatMap((s) => s.body)
      .map((i) => /cp --parents ((?:\S+ )+)\S+$/.exec(i.args)?.[1])
      .find((m) => m !== undefined);
    assert.ok(pick, 'a `cp --parents` that picks the manifests');
    const globs = pick
      .trim()
      .split(' ')
      .map((g) => new RegExp(`^${g.replace(/\./g, '\\.').replace(/\*/g, '[^/]+')}$`));
    const root = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
      workspaces: string[];
    };
    const workspaces = root.workspaces.flatMap((w) =>
      w.endsWith('/*')
        ? readdirSync(join(repoRoot, w.slice(0, -2)))
            .map((d) => `${w.slice(0, -2)}/${d}`)
            .filter((d) => existsSync(join(repoRoot, d, 'package.json')))
        : [w],
    );
    assert.ok(workspaces.includes('services/api') && workspaces.includes('operator'));
    for (const file of [
      'package.json',
      'package-lock.json',
      ...workspaces.map((w) => `${w}/package.json`),
    ]) {
      assert.ok(
        globs.some((g) => g.test(file)),
        `${file} is not among the manifests (${pick.trim()})`,
      );
    }
  });

  test('.dockerignore keeps modules, git, test data and secrets out of the build context', () => {
    const lines = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    for (const needed of ['**/node_modules', '.git', '.testenv', '.env', '**/test']) {
      assert.ok(lines.includes(needed), `.dockerignore lacks ${needed}`);
    }
    // What the images need must not be ignored.
    for (const kept of [
      'package.json',
      'package-lock.json',
      'packages',
      'services',
      'operator',
      'cdk8s',
    ]) {
      assert.ok(!lines.includes(kept), `.dockerignore must keep ${kept}`);
    }
  });
});

interface SkaffoldArtifact {
  image: string;
  context?: string;
  docker?: { dockerfile?: string; target?: string; buildArgs?: Record<string, string> };
  custom?: {
    buildCommand?: string;
    dependencies?: { dockerfile?: { path?: string; buildArgs?: Record<string, string> } };
  };
  sync?: { manual?: { src: string; dest: string }[] };
}
interface Patch {
  op: string;
  path: string;
  value?: unknown;
}
interface Skaffold {
  apiVersion: string;
  kind: string;
  build: { artifacts: SkaffoldArtifact[] };
  deploy: {
    helm: {
      releases: {
        name: string;
        chartPath: string;
        setValueTemplates?: Record<string, string>;
        setValues?: Record<string, unknown>;
      }[];
    };
  };
  profiles: {
    name: string;
    activation?: { command?: string }[];
    patches?: Patch[];
    build?: { local?: { push?: boolean }; artifacts: SkaffoldArtifact[] };
  }[];
}

/** Keys skaffold's v4beta schema allows, at the levels this file uses. */
const TOP = [
  'apiVersion',
  'kind',
  'metadata',
  'requires',
  'build',
  'test',
  'render',
  'manifests',
  'deploy',
  'portForward',
  'resourceSelector',
  'verify',
  'customActions',
  'profiles',
];
const PROFILE = [
  ...TOP.filter((k) => !['apiVersion', 'kind', 'metadata', 'requires', 'profiles'].includes(k)),
  'name',
  'activation',
  'patches',
  'requiresAllActivations',
];
const ARTIFACT = [
  'image',
  'context',
  'sync',
  'requires',
  'hooks',
  'platforms',
  'runtimeType',
  'docker',
  'bazel',
  'ko',
  'jib',
  'kaniko',
  'buildpacks',
  'custom',
  'cluster',
];
const DOCKER = [
  'dockerfile',
  'target',
  'buildArgs',
  'network',
  'addHost',
  'cacheFrom',
  'cliFlags',
  'pullParent',
  'noCache',
  'cacheTo',
  'squash',
  'secrets',
  'ssh',
];
const RELEASE = [
  'name',
  'chartPath',
  'remoteChart',
  'valuesFiles',
  'namespace',
  'version',
  'setValues',
  'setValueTemplates',
  'setFiles',
  'createNamespace',
  'wait',
  'recreatePods',
  'skipBuildDependencies',
  'skipTests',
  'useHelmSecrets',
  'repo',
  'upgradeOnChange',
  'overrides',
  'packaged',
  'dependsOn',
];

function onlyKeys(obj: object, allowed: string[], where: string): void {
  for (const k of Object.keys(obj)) assert.ok(allowed.includes(k), `${where}: unknown key ${k}`);
}

/** Applies the JSON patches of a profile (only `add`/`replace`, which is all this file uses). */
function applyPatches(doc: unknown, patches: Patch[]): unknown {
  const copy = structuredClone(doc) as Record<string, unknown>;
  for (const p of patches) {
    assert.ok(p.op === 'add' || p.op === 'replace', `patch op ${p.op}`);
    const parts = p.path
      .split('/')
      .slice(1)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop() ?? '';
    let node: Record<string, unknown> = copy;
    for (const part of parts) {
      const next = node[part];
      assert.ok(next && typeof next === 'object', `patch path ${p.path} does not exist`);
      node = next as Record<string, unknown>;
    }
    node[last] = p.value;
  }
  return copy;
}

describe('skaffold.yaml', () => {
  const doc = parse(readFileSync(join(repoRoot, 'skaffold.yaml'), 'utf8')) as Skaffold;

  test('declares a skaffold v4beta schema and uses only its keys', () => {
    assert.match(doc.apiVersion, /^skaffold\/v4beta(1[0-3]|[1-9])$/);
    assert.equal(doc.kind, 'Config');
    onlyKeys(doc, TOP, 'top level');
    for (const a of doc.build.artifacts) {
      onlyKeys(a, ARTIFACT, `artifact ${a.image}`);
      onlyKeys(a.docker ?? {}, DOCKER, `artifact ${a.image} docker`);
    }
    for (const r of doc.deploy.helm.releases) onlyKeys(r, RELEASE, `release ${r.name}`);
    for (const p of doc.profiles) onlyKeys(p, PROFILE, `profile ${p.name}`);
  });

  test('builds the four images from Dockerfiles and contexts that exist', () => {
    assert.deepEqual(
      doc.build.artifacts.map((a) => a.image).sort(),
      images.map((i) => i.image).sort(),
    );
    for (const a of doc.build.artifacts) {
      const context = join(repoRoot, a.context ?? '.');
      assert.ok(statSync(context).isDirectory(), `${a.image}: context ${context}`);
      const dockerfile = a.docker?.dockerfile ?? 'Dockerfile';
      assert.equal(dockerfile, DOCKERFILE);
      assert.ok(existsSync(join(context, dockerfile)), `${a.image}: ${dockerfile}`);
      const want = images.find((i) => i.image === a.image);
      assert.ok(want);
      assert.deepEqual(a.docker?.buildArgs, buildArgsOf(want), `${a.image}: build arguments`);
    }
  });

  test('deploys through the chart, passing every built image to the chart values', () => {
    const [release] = doc.deploy.helm.releases;
    assert.ok(release);
    assert.equal(join(repoRoot, release.chartPath), chartDir);
    assert.ok(existsSync(join(chartDir, 'Chart.yaml')));
    const templates = Object.values(release.setValueTemplates ?? {}).join('\n');
    for (const { image } of images) {
      const key = image.replace(/[/.-]/g, '_');
      assert.match(templates, new RegExp(`\\{\\{\\.IMAGE_[A-Z_]+_${key}\\}\\}`), `${image} unused`);
    }
    const schema = JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8')) as {
      properties: Record<string, unknown>;
    };
    for (const key of [
      ...Object.keys(release.setValueTemplates ?? {}),
      ...Object.keys(release.setValues ?? {}),
    ]) {
      const top = key.split('.')[0] ?? '';
      assert.ok(top in schema.properties, `value ${key} is not in the chart's schema`);
    }
  });

  test('the dev profile runs on `skaffold dev` and syncs files that exist into a dev stage', () => {
    const dev = doc.profiles.find((p) => p.name === 'dev');
    assert.ok(dev);
    assert.ok(dev.activation?.some((a) => a.command === 'dev'));
    const patched = applyPatches(doc, dev.patches ?? []) as Skaffold;
    const synced = patched.build.artifacts.filter((a) => (a.sync?.manual ?? []).length > 0);
    assert.ok(synced.length > 0, 'some artifact syncs files');
    for (const a of synced) {
      const dockerfile = readFileSync(join(repoRoot, a.docker?.dockerfile ?? ''), 'utf8');
      assert.ok(a.docker?.target, `${a.image}: sync needs a stage that runs sources`);
      assert.match(dockerfile, new RegExp(`^FROM \\S+ AS ${a.docker.target}$`, 'm'));
      for (const rule of a.sync?.manual ?? []) {
        const dir = rule.src.split('*')[0] ?? '';
        assert.ok(existsSync(join(repoRoot, dir)), `sync source ${rule.src}`);
      }
    }
    const setValues = patched.deploy.helm.releases[0]?.setValues ?? {};
    assert.equal(setValues['securityContext.readOnlyRootFilesystem'], false);
  });

  test('the sample-cluster profile also creates a GossipCluster', () => {
    const sample = doc.profiles.find((p) => p.name === 'sample-cluster');
    assert.ok(sample);
    const patched = applyPatches(doc, sample.patches ?? []) as Skaffold;
    const setValues = patched.deploy.helm.releases[0]?.setValues ?? {};
    assert.equal(setValues['cluster.create'], true);
    assert.ok(typeof setValues['cluster.name'] === 'string');
    // Into the release's namespace, so `skaffold run --namespace NS` puts it beside its operator.
    assert.equal(setValues['cluster.namespace'], undefined);
  });

  test('the testenv profile builds the same four images with buildah into the node, pushing nothing', () => {
    const profile = doc.profiles.find((p) => p.name === 'testenv');
    assert.ok(profile?.build, 'a testenv profile with a build section of its own');
    // A Docker daemon's absence is why the profile exists: no docker builder may remain.
    assert.equal(profile.build.local?.push, false);
    assert.deepEqual(
      profile.build.artifacts.map((a) => a.image).sort(),
      doc.build.artifacts.map((a) => a.image).sort(),
    );
    for (const a of profile.build.artifacts) {
      onlyKeys(a, ARTIFACT, `testenv artifact ${a.image}`);
      assert.equal(a.docker, undefined, `${a.image}: docker builder in the testenv profile`);
      const want = images.find((i) => i.image === a.image);
      assert.ok(want);
      const m = /^npx tsx packages\/testenv\/src\/cli\.ts build-image (\w+)$/.exec(
        a.custom?.buildCommand ?? '',
      );
      assert.ok(m, `${a.image}: custom buildCommand ${a.custom?.buildCommand}`);
      // The builder's name for the image must build this artifact's Dockerfile.
      assert.equal(m[1], want.name, a.image);
      assert.deepEqual({ ...PRODUCT_IMAGES[m[1] as ProductImage] }, buildArgsOf(want), a.image);
      assert.equal(a.custom?.dependencies?.dockerfile?.path, DOCKERFILE);
      assert.deepEqual(a.custom?.dependencies?.dockerfile?.buildArgs, buildArgsOf(want));
    }
    const patched = applyPatches(doc, profile.patches ?? []) as Skaffold;
    const setValues = patched.deploy.helm.releases[0]?.setValues ?? {};
    assert.equal(setValues['image.pullPolicy'], 'Never');
    assert.equal(setValues['cluster.spec.image.pullPolicy'], 'Never');
    for (const s of STAND_INS) {
      assert.equal(setValues[`cluster.spec.${s}.managed.image`], standInImage(s), s);
    }
  });
});
