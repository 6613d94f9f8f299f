/**
 * The versioned cache outside the repo that the test servers are built into, and the one
 * way a part gets there: built once per machine under a lock, used only once its
 * `.complete` marker exists, so an interrupted build is redone rather than half used.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { alive } from './pid.js';

/** Where progress lines go (the CLI prints them to stderr). */
export type Progress = (line: string) => void;

/** The cache folder: $GOSSIP_TESTENV_CACHE, else `gossip-testenv` in the XDG cache. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GOSSIP_TESTENV_CACHE) return env.GOSSIP_TESTENV_CACHE;
  const xdg = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME !== '' ? env.XDG_CACHE_HOME : undefined;
  return join(xdg ?? join(homedir(), '.cache'), 'gossip-testenv');
}

/** Whether `dir` holds a finished build. */
export function built(dir: string): boolean {
  return existsSync(join(dir, '.complete'));
}

/**
 * Builds into `dir` unless it holds a finished build: under the machine's build lock
 * (`lockDir`, the cache root unless given), checked again once the lock is held, since
 * another process may have built it meanwhile; the marker is written only after `build`
 * returns.
 */
export async function buildOnce(
  dir: string,
  opts: { announce: string; lockDir?: string },
  build: () => Promise<void>,
  progress: Progress,
): Promise<void> {
  if (built(dir)) return;
  await withLock(
    opts.lockDir ?? cacheRoot(),
    async () => {
      if (built(dir)) return;
      progress(opts.announce);
      mkdirSync(dir, { recursive: true });
      await build();
      writeFileSync(join(dir, '.complete'), new Date().toISOString());
    },
    progress,
  );
}

/** A short hash of a Go module's pins and sources, so an edit rebuilds into a new folder. */
export function goCacheKey(dir: string, files: string[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(readFileSync(join(dir, f)));
  return h.digest('hex').slice(0, 12);
}

/** The environment every Go build here runs with (no VCS stamping: the cache key says what it is). */
export function goEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, GOFLAGS: '-buildvcs=false', ...extra };
}

/**
 * `go install` of `pkgs` (each `module/cmd/x@version`) into `gobin`, stripped, with `ldflags`
 * added (version stamps), static unless `cgo`, at low priority when `nice` (the long builds
 * that may run while tests do).
 */
export async function goInstall(
  pkgs: string[],
  opts: {
    gobin: string;
    what: string;
    ldflags?: string;
    tags?: string;
    cgo?: boolean;
    nice?: boolean;
  },
  progress: Progress,
): Promise<void> {
  const args = [
    'install',
    '-trimpath',
    `-ldflags=-s -w${opts.ldflags ? ` ${opts.ldflags}` : ''}`,
    ...(opts.tags ? ['-tags', opts.tags] : []),
    ...pkgs,
  ];
  const env = goEnv({ GOBIN: opts.gobin, ...(opts.cgo ? {} : { CGO_ENABLED: '0' }) });
  if (opts.nice) await run('nice', ['-n', '10', 'go', ...args], { env, what: opts.what }, progress);
  else await run('go', args, { env, what: opts.what }, progress);
}

/** The folder of a module version in the Go module cache (downloaded if needed). */
export function moduleDir(mod: string, cwd: string): string {
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
