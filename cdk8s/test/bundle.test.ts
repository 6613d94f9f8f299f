/**
 * The operator image runs an esbuild bundle of its sources with this package inlined
 * (the root Dockerfile, WORKSPACE=operator). Inside a bundle every module's `import.meta.url` is the bundle's
 * own URL, which is also `process.argv[1]`; a command-line module that decides "am I the
 * main module" by comparing the two then runs on every start. On the real node that made the
 * operator pod crash-loop (`ENOENT: mkdir '/app/generated'`: crd-cli wrote the CRD file on a
 * read-only root filesystem) and would have run the synth CLI on the operator's arguments.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { build } from 'esbuild';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
// Under the repository's node_modules so the bundle's external npm imports resolve.
const cacheDir = join(repo, 'node_modules', '.cache');
mkdirSync(cacheDir, { recursive: true });
const work = mkdtempSync(join(cacheDir, 'gossip-bundle-test-'));

after(() => rmSync(work, { recursive: true, force: true }));

test('a bundle importing @gossip/cdk8s (as the operator image does) runs none of its command-line entry points', async () => {
  const entry = join(work, 'entry.ts');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(
    entry,
    `import * as cdk8s from ${JSON.stringify(join(repo, 'cdk8s/src/index.ts'))};\n` +
      'if (typeof cdk8s.buildClusterObjects !== "function") throw new Error("not loaded");\n',
  );
  const outfile = join(work, 'dist', 'main.mjs');
  const result = await build({
    metafile: true,
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    logLevel: 'silent',
    // As in the root Dockerfile's build stage: workspace code inlined, npm packages left external.
    plugins: [
      {
        name: 'npm-external',
        setup(b) {
          b.onResolve({ filter: /^[^./]/ }, (a) =>
            a.path.startsWith('@gossip/') ? undefined : { path: a.path, external: true },
          );
        },
      },
    ],
  });
  // The constructs' env is typed from the services' config schemas by type-only imports:
  // none of a service's code may enter the bundle.
  const fromServices = Object.keys(result.metafile.inputs).filter((f) =>
    /(^|\/)services\//.test(f),
  );
  assert.deepEqual(fromServices, [], 'service code in the bundle');
  const res = spawnSync(process.execPath, [outfile, '--some-operator-flag'], {
    cwd: work,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(res.status, 0, `bundle exited ${res.status}:\n${res.stdout}\n${res.stderr}`);
  assert.equal(res.stdout, '', 'a CLI printed from inside the bundle');
  assert.equal(res.stderr, '');
  assert.equal(existsSync(join(work, 'generated')), false, 'crd-cli wrote its file on import');
  assert.deepEqual(readdirSync(work).sort(), ['dist', 'entry.ts']);
});
