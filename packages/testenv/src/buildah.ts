/**
 * buildah's storage for the test environment's images: where it lives (in the cache, so
 * layers and npm's cache survive between runs), how buildah is called on it, the ids of the
 * images in it, and when it is pruned (only when the disk runs low: the untagged layers are
 * the `--layers` cache that keeps a second `testenv images` short).
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot, type Progress } from './install.js';
import { repoRoot } from './state.js';

/** statfs(2) f_type of an overlayfs, which cannot hold another overlay's upper layers. */
const OVERLAYFS_MAGIC = 0x794c7630;

/**
 * buildah's storage driver: kernel overlayfs (as root; containerd's snapshotter here is
 * overlayfs too), unless the cache itself is on an overlayfs (a container's root): then vfs,
 * which copies every layer whole. With vfs each of the four product images took 2-5 min here
 * even with every step cached (each step's container is a full copy of the tree and its
 * node_modules); with overlay 11-31 s.
 */
export function storageDriver(): 'overlay' | 'vfs' {
  const cache = cacheRoot();
  mkdirSync(cache, { recursive: true });
  return statfsSync(cache).type === OVERLAYFS_MAGIC ? 'vfs' : 'overlay';
}

/**
 * buildah's storage folder (root, runroot and TMPDIR under it), one per driver (a storage
 * cannot change driver). Mounts under it exist only while a build runs.
 */
export const storageDir = (): string => join(cacheRoot(), 'images', `buildah-${storageDriver()}`);

/**
 * The storage's run root (locks, what is mounted): podman refuses one longer than 50
 * characters, so it sits higher up in the cache, or under /tmp when even that is too long.
 */
export function runRoot(): string {
  const short = join(cacheRoot(), 'run', storageDriver());
  if (short.length <= 50) return short;
  const hash = createHash('sha256').update(short).digest('hex').slice(0, 8);
  return join('/tmp', `gossip-buildah-${hash}`);
}

/** buildah with its storage in the cache, so layers (and npm's cache) survive between runs. */
export function buildahArgs(): string[] {
  return [
    '--root',
    join(storageDir(), 'root'),
    '--runroot',
    runRoot(),
    '--storage-driver',
    storageDriver(),
    // No private bind mount of the overlay driver's folder onto itself: nothing stays
    // mounted between builds (a build's layers are mounted only while it runs).
    ...(storageDriver() === 'overlay' ? ['--storage-opt', 'overlay.skip_mount_home=true'] : []),
  ];
}

export function buildahEnv(): NodeJS.ProcessEnv {
  // RUN --mount=type=cache keeps its folders under TMPDIR: the npm cache then survives too.
  const tmp = join(storageDir(), 'tmp');
  mkdirSync(tmp, { recursive: true });
  return { ...process.env, TMPDIR: tmp, BUILDAH_ISOLATION: 'chroot' };
}

/**
 * Runs a command in the repository and returns its stdout; fails with the tail of its output
 * (stdout and stderr together).
 */
export async function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  what: string,
): Promise<string> {
  const child = spawn(cmd, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const stdout: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => {
    stdout.push(c);
    out = (out + c.toString()).slice(-8000);
  });
  child.stderr.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-8000)));
  const code = await new Promise<number | null>((res) => child.on('exit', res));
  if (code !== 0)
    throw new Error(`${what}: \`${cmd} ${args.join(' ')}\` failed (${code}):\n${out}`);
  return Buffer.concat(stdout).toString();
}

/** The id (64 hex digits) of image `name` in buildah's storage. */
export function imageId(name: string): string {
  const id = execFileSync(
    'buildah',
    [...buildahArgs(), 'inspect', '--type', 'image', '--format', '{{.FromImageID}}', name],
    { encoding: 'utf8', env: buildahEnv() },
  )
    .trim()
    .replace(/^sha256:/, '');
  if (!/^[0-9a-f]{64}$/.test(id)) throw new Error(`buildah gave no image id for ${name}: ${id}`);
  return id;
}

/**
 * Below this much free disk (on the filesystem of buildah's storage) a run prunes the storage.
 * With the vfs driver every layer is a full copy: a run that rebuilt the four product images
 * grew the storage from 5.5 to 14 GB here, and one day of rebuilds on a shared machine had
 * once filled 56 GB and the disk (overlay stores each layer's changes only). Above it, the untagged layers stay: they are buildah's
 * `--layers` cache, so an unchanged step (the stand-ins, the npm install of an unchanged
 * tree) is not run again; pruned, every run rebuilt everything.
 */
export const PRUNE_BELOW_FREE_BYTES = 25e9;

/** Free bytes for an unprivileged writer on the filesystem holding `path`. */
function freeBytes(path: string): number {
  const s = statfsSync(path);
  return s.bavail * s.bsize;
}

/**
 * Only when free disk is below {@link PRUNE_BELOW_FREE_BYTES}: removes the images no tag names
 * any more (earlier builds of the same tags, multi-stage builder stages, the layer cache). The
 * tagged images (the base among them) stay, and npm's cache lives outside the storage. After a
 * run (`afterRun`), also the working containers of interrupted builds (never reused); not
 * before one, where another build on the same storage may be using its container.
 */
export async function pruneStorage(
  progress: Progress,
  { afterRun }: { afterRun: boolean },
): Promise<void> {
  const env = buildahEnv();
  if (afterRun) {
    await run('buildah', [...buildahArgs(), 'rm', '--all'], env, 'removing build containers');
  }
  const storage = storageDir();
  const free = freeBytes(storage);
  const gb = (b: number): string => `${(b / 1e9).toFixed(0)} GB`;
  if (free >= PRUNE_BELOW_FREE_BYTES) {
    progress(
      `  buildah storage: ${gb(free)} free (prunes below ${gb(PRUNE_BELOW_FREE_BYTES)}), layer cache kept`,
    );
    return;
  }
  await run('buildah', [...buildahArgs(), 'rmi', '--prune'], env, 'pruning untagged images');
  progress(
    `  buildah storage: ${gb(free)} free was below ${gb(PRUNE_BELOW_FREE_BYTES)}: untagged images (the layer cache) pruned, ${gb(freeBytes(storage))} free now`,
  );
}
