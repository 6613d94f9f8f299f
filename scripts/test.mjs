// The test command: brings the real test environment up (installing and building
// its servers on first run), runs every test file with node's test runner through
// tsx, and takes the environment down again if it started it.
// A full run then runs the cluster suite (scripts/test-cluster.mjs: the product on a real
// Kubernetes node of its own, in .testenv-node/), which needs root on Linux.
//   node scripts/test.mjs               every test, then the cluster suite
//   node scripts/test.mjs --no-cluster  every test, without the cluster suite
//   node scripts/test.mjs --unit        only tests that need no server (*.test.ts, not *.integration.test.ts)
//   node scripts/test.mjs FILE...       just these files (environment brought up as needed)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runPhase, runTests } from './run-phase.mjs';

const WORKSPACES = ['packages', 'services'];
const SINGLE = ['operator', 'cdk8s'];

function findTests(dir, out) {
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory() && e.name !== 'node_modules') findTests(p, out);
    else if (e.isFile() && e.name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
let files = args.filter((a) => !a.startsWith('--'));
const withCluster = files.length === 0 && !unitOnly && !args.includes('--no-cluster');
if (files.length === 0) {
  const roots = [
    ...WORKSPACES.flatMap((w) =>
      existsSync(w) ? readdirSync(w).map((d) => join(w, d, 'test')) : [],
    ),
    ...SINGLE.map((d) => join(d, 'test')),
  ];
  files = roots.flatMap((r) => findTests(r, [])).sort();
  if (unitOnly) files = files.filter((f) => !f.endsWith('.integration.test.ts'));
}
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}

const needsEnv = files.some((f) => f.endsWith('.integration.test.ts'));
const testenv = (cmd) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'packages/testenv/src/cli.ts', cmd], {
    stdio: 'inherit',
  });

let startedHere = false;
if (needsEnv) {
  const status = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'packages/testenv/src/cli.ts', 'status'],
    { stdio: 'ignore' },
  );
  if (status.status !== 0) {
    const res = testenv('up');
    if (res.status !== 0) {
      console.error('the test environment did not come up; see the lines above');
      process.exit(1);
    }
    startedHere = true;
  }
}

const t0 = Date.now();
let code = await runTests(withCluster ? 'tests (without the cluster suite)' : 'tests', files, {
  env: process.env,
  testTimeoutMs: 600_000,
  timeoutMs: 90 * 60_000,
});
// Down before the cluster suite: its node brings servers of its own (own ports and folder).
if (startedHere && !process.env.GOSSIP_TESTENV_KEEP) testenv('down');
if (withCluster) {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    process.stderr.write(
      '[test] cluster suite: NOT RUN: it needs root on Linux (a real node: containerd, kubelet, nftables); `sudo npm run test:cluster` runs it alone\n',
    );
  } else {
    const rc = await runPhase(
      'cluster suite (scripts/test-cluster.mjs)',
      process.execPath,
      ['scripts/test-cluster.mjs'],
      // Its own phases have their own limits; this one only catches what they miss.
      { env: process.env, timeoutMs: 240 * 60_000 },
    );
    if (rc !== 0) code = 1;
  }
  process.stderr.write(
    `[test] everything: ${code === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - t0) / 60_000).toFixed(1)} min\n`,
  );
}
process.exit(code);
