// The cluster suite: the product on a real Kubernetes node (`npm run test:cluster`, as root;
// `npm test` runs it after the other tests).
// Brings up its own test environment with a node (`testenv up --node`, state in
// .testenv-node/ or $GOSSIP_TESTENV_DIR, so it never touches the default .testenv/), builds
// and imports the images (`testenv images`), runs packages/*/test/cluster/*.cluster.ts, and
// takes the node down again, which puts the host back as it was (unless GOSSIP_TESTENV_KEEP).
// The testenv package's own cluster tests (up/down of a node of their own, host restored)
// run first, before this node exists: two nodes cannot share cni0 and the nft tables.
// Every phase prints a line when it starts and its minutes when it ends, and has a time
// limit (scripts/run-phase.mjs): a hanging step fails with a message, it does not hang CI.
//   node scripts/test-cluster.mjs           the whole suite
//   node scripts/test-cluster.mjs FILE...   just these files
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runPhase, runTests } from './run-phase.mjs';

const root = resolve(import.meta.dirname, '..');
const env = {
  ...process.env,
  GOSSIP_TESTENV_DIR: process.env.GOSSIP_TESTENV_DIR || join(root, '.testenv-node'),
};
const MIN = 60_000;
/** The per-test limit node's runner enforces inside a file. */
const TEST_TIMEOUT_MS = 15 * MIN;
/** A whole cluster file (several tests, each under TEST_TIMEOUT_MS). */
const FILE_TIMEOUT_MS = 30 * MIN;
/**
 * Files that need more: skaffold.cluster.ts builds the four images itself (through
 * skaffold's custom builder) before it deploys; its own tests set their limits below these.
 */
const LONGER = { 'skaffold.cluster.ts': { test: 45 * MIN, file: 50 * MIN } };
const limits = (f) =>
  LONGER[f.split('/').pop()] ?? { test: TEST_TIMEOUT_MS, file: FILE_TIMEOUT_MS };

const testenv = (name, args, timeoutMs) =>
  runPhase(name, process.execPath, ['--import', 'tsx', 'packages/testenv/src/cli.ts', ...args], {
    cwd: root,
    env,
    timeoutMs,
  });

let files = process.argv.slice(2);
if (files.length === 0) {
  files = readdirSync(join(root, 'packages'))
    .map((p) => join('packages', p, 'test', 'cluster'))
    .filter((d) => existsSync(join(root, d)))
    .flatMap((d) =>
      readdirSync(join(root, d))
        .filter((f) => f.endsWith('.cluster.ts'))
        .map((f) => join(d, f)),
    )
    .sort();
}

const nodeTest = (name, list, timeoutMs, testTimeoutMs = TEST_TIMEOUT_MS) =>
  runTests(name, list, { cwd: root, env, testTimeoutMs, timeoutMs });

const t0 = Date.now();
const results = [];
const finish = (code) => {
  process.stderr.write(
    `[test] cluster suite: ${code === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - t0) / MIN).toFixed(1)} min\n` +
      results.map((r) => `[test]   ${r}\n`).join(''),
  );
  process.exit(code);
};

const own = files.filter((f) => f.includes(join('testenv', 'test')));
const product = files.filter((f) => !own.includes(f));
const status = spawnSync(
  process.execPath,
  ['--import', 'tsx', 'packages/testenv/src/cli.ts', 'status'],
  { cwd: root, env, stdio: 'ignore' },
);
const started = status.status !== 0;
if (own.length > 0 && !started) {
  console.error('the node is already up: the host-restore tests need the host without it');
  process.exit(1);
}
if (own.length > 0 || started) {
  // A fresh machine's Go builds (kubelet & co., CoreDNS, local-path, Prometheus,
  // kube-router: about 15 minutes cold) run here under their own limit, not inside the
  // host-restore tests' `up --node` (which gives a run 10 minutes) or the node's `up`.
  if ((await testenv('testenv prepare --node', ['prepare', '--node'], 60 * MIN)) !== 0) {
    console.error('building the node parts failed; see the lines above');
    finish(1);
  }
}
if (own.length > 0) {
  // Each of these brings a node up and down itself.
  const rc = await nodeTest('host-restore tests', own, 60 * MIN);
  results.push(`host-restore tests: ${rc === 0 ? 'passed' : 'FAILED'}`);
  if (rc !== 0) finish(1);
}
if (product.length === 0) finish(0);
if (started) {
  // First run on a fresh machine builds kubelet & co. from the Go module proxy.
  if ((await testenv('testenv up --node', ['up', '--node'], 45 * MIN)) !== 0) {
    console.error('the test environment with a node did not come up; see the lines above');
    await testenv('testenv down', ['down'], 5 * MIN);
    finish(1);
  }
}
let code = await testenv('testenv images', ['images'], 45 * MIN);
if (code !== 0) results.push('testenv images: FAILED');
else {
  for (const f of product) {
    const rc = await nodeTest(f, [f], limits(f).file, limits(f).test);
    results.push(`${f}: ${rc === 0 ? 'passed' : 'FAILED'}`);
    if (rc !== 0) code = 1;
  }
}
if (started && !process.env.GOSSIP_TESTENV_KEEP) {
  if ((await testenv('testenv down', ['down'], 5 * MIN)) !== 0) code = 1;
}
finish(code);
