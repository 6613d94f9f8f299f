// The test command: brings the real test environment up (installing and building
// its servers on first run), runs every test file with node's test runner through
// tsx, and takes the environment down again if it started it.
//   node scripts/test.mjs            every test
//   node scripts/test.mjs --unit     only tests that need no server (*.test.ts, not *.integration.test.ts)
//   node scripts/test.mjs FILE...    just these files (environment brought up as needed)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

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

// One file at a time: the machine is small and the files share the servers.
const res = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    '--test-concurrency=1',
    '--test-timeout=600000',
    ...files,
  ],
  { stdio: 'inherit' },
);
if (startedHere && !process.env.GOSSIP_TESTENV_KEEP) testenv('down');
process.exit(res.status ?? 1);
