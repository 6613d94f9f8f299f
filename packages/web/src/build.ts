/**
 * Builds the web client with Vite when its output is missing or older than any of its
 * sources (the page, and the SDK, protocol and crypto packages it bundles), so a fresh
 * clone's `npm start` and the browser test always serve the current code.
 */
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The web workspace (packages/web). */
export const webRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Where Vite writes the page. */
export const webDist = join(webRoot, 'dist');

const SOURCES = [
  join(webRoot, 'index.html'),
  join(webRoot, 'vite.config.ts'),
  join(webRoot, 'src', 'app'),
  join(webRoot, '..', 'client', 'src'),
  join(webRoot, '..', 'protocol', 'src'),
  join(webRoot, '..', 'crypto', 'src'),
];

function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const info = statSync(path);
  if (!info.isDirectory()) return info.mtimeMs;
  let max = info.mtimeMs;
  for (const e of readdirSync(path)) max = Math.max(max, newest(join(path, e)));
  return max;
}

/** Written after a successful build: its mtime is when the build started. */
const STAMP = join(webDist, '.built');

/** Why the page must be (re)built, or undefined when `dist` is current. */
export function buildNeeded(): string | undefined {
  if (!existsSync(join(webDist, 'index.html')) || !existsSync(STAMP)) {
    return 'it has not been built yet';
  }
  const built = statSync(STAMP).mtimeMs;
  const src = Math.max(...SOURCES.map(newest));
  return src > built ? 'its sources changed since the last build' : undefined;
}

/**
 * Builds the page if needed; `say` gets one line per step. Returns the `dist` folder.
 * @param force build even when `dist` looks current
 */
export async function ensureWebBuild(say: (line: string) => void, force = false): Promise<string> {
  const why = force ? 'a build was asked for' : buildNeeded();
  if (!why) return webDist;
  say(`building the web client with Vite (${why})…`);
  const started = Date.now();
  const { build } = await import('vite');
  // Vite may leave unchanged files alone, so their times say nothing: stamp the build.
  await build({
    configFile: join(webRoot, 'vite.config.ts'),
    root: webRoot,
    logLevel: 'warn',
  });
  writeFileSync(STAMP, `${new Date(started).toISOString()}\n`);
  // A source saved during the build must make the next start build again.
  utimesSync(STAMP, started / 1000, started / 1000);
  say(`web client built in ${((Date.now() - started) / 1000).toFixed(1)} s (${webDist})`);
  return webDist;
}
