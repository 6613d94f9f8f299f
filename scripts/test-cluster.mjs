// The cluster suite: the product on a real Kubernetes node (`npm run test:cluster`, as root).
// Brings up its own test environment with a node (`testenv up --node`, state in
// .testenv-node/ or $GOSSIP_TESTENV_DIR, so it never touches the default .testenv/), builds
// and imports the images (`testenv images`), runs packages/*/test/cluster/*.cluster.ts, and
// takes the node down again, which puts the host back as it was (unless GOSSIP_TESTENV_KEEP).
// The testenv package's own cluster tests (up/down of a node of their own, host restored)
// run first, before this node exists: two nodes cannot share cni0 and the nft tables.
//   node scripts/test-cluster.mjs           the whole suite
//   node scripts/test-cluster.mjs FILE...   just these files
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const env = {
  ...process.env,
  GOSSIP_TESTENV_DIR: process.env.GOSSIP_TESTENV_DIR || join(root, '.testenv-node'),
};

function testenv(...args) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'packages/testenv/src/cli.ts', ...args], {
    cwd: root,
    env,
    stdio: 'inherit',
  });
}

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

function nodeTest(list) {
  if (list.length === 0) return 0;
  return (
    spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--test',
        '--test-reporter=spec',
        '--test-concurrency=1',
        '--test-timeout=900000',
        ...list,
      ],
      { cwd: root, env, stdio: 'inherit' },
    ).status ?? 1
  );
}

const own = files.filter((f) => f.includes(join('testenv', 'test')));
const product = files.filter((f) => !own.includes(f));
const started = testenv('status').status !== 0;
if (own.length > 0 && !started) {
  console.error('the node is already up: the host-restore tests need the host without it');
  process.exit(1);
}
if (nodeTest(own) !== 0) process.exit(1);
if (product.length === 0) process.exit(0);
if (started && testenv('up', '--node').status !== 0) {
  console.error('the test environment with a node did not come up; see the lines above');
  testenv('down');
  process.exit(1);
}
let code = testenv('images').status ?? 1;
if (code === 0) code = nodeTest(product);
if (started && !process.env.GOSSIP_TESTENV_KEEP) testenv('down');
process.exit(code);
