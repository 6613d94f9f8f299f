/**
 * FerretDB built from its pinned module with the fixes in ferretdb/patches.json applied to
 * the source first; the cache folder's key covers the pins and the patches, so an edit
 * to either rebuilds.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { goCacheKey, goEnv, moduleDir, run, type Progress } from './build-cache.js';
import { repoRoot } from './state.js';
import { VERSIONS } from './versions.js';

const ferretModDir = join(repoRoot, 'packages/testenv/ferretdb');

/** The cache folder name of this FerretDB build. */
export function ferretFolder(): string {
  const key = goCacheKey(ferretModDir, ['go.mod', 'go.sum', 'main.go', 'patches.json']);
  return `ferretdb-${VERSIONS.ferretdb}-${key}`;
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
  const src = join(dir, 'src');
  rmSync(src, { recursive: true, force: true });
  cpSync(moduleDir(`github.com/FerretDB/FerretDB@${VERSIONS.ferretdb}`, ferretModDir), src, {
    recursive: true,
  });
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

/** Builds `<dir>/ferretdb` from the patched source and removes the source again. */
export async function buildFerret(dir: string, progress: Progress): Promise<void> {
  const buildDir = patchedFerretModule(dir);
  progress(`FerretDB: applied ${FERRET_PATCHES.length} patch(es) from ferretdb/patches.json`);
  await run(
    'go',
    ['build', '-trimpath', '-ldflags=-s -w', '-o', join(dir, 'ferretdb'), '.'],
    { cwd: buildDir, env: goEnv(), what: 'FerretDB' },
    progress,
  );
  rmSync(join(dir, 'src'), { recursive: true, force: true });
  rmSync(buildDir, { recursive: true, force: true });
}
