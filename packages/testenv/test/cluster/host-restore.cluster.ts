/**
 * A real node leaves the host as it found it (`npm run test:cluster` runs this before it
 * brings up its own node; two nodes cannot share cni0 and the nft tables): `up --node` in a
 * fresh folder changes the host (a bridge, veths, nft tables and chains, kube-router's ipsets,
 * sysctls, cgroups, folders), and `down` puts every one of those back; after a crash (every
 * daemon killed with SIGKILL, pods left running) the next `up` cleans up first and its `down`
 * again leaves nothing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { diffHost, snapshotHost } from '../../src/host.js';
import { POLICY_FORWARD_CHAIN } from '../../src/policy-controller.js';
import { repoRoot, type TestEnv } from '../../src/state.js';

const dir = mkdtempSync(join(tmpdir(), 'gossip-node-'));
const env = { ...process.env, GOSSIP_TESTENV_DIR: dir };

function cli(...args: string[]): string {
  const res = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(repoRoot, 'packages/testenv/src/cli.ts'), ...args],
    { cwd: repoRoot, env, encoding: 'utf8', timeout: 600_000 },
  );
  assert.equal(res.status, 0, `testenv ${args.join(' ')} failed:\n${res.stdout}\n${res.stderr}`);
  return res.stderr;
}

after(() => {
  spawnSync(
    process.execPath,
    ['--import', 'tsx', join(repoRoot, 'packages/testenv/src/cli.ts'), 'down'],
    { cwd: repoRoot, env, stdio: 'ignore' },
  );
  rmSync(dir, { recursive: true, force: true });
});

test('up --node changes the host, down puts it back exactly', () => {
  const before = snapshotHost();
  const upLog = cli('up', '--node');
  process.stderr.write(
    upLog
      .split('\n')
      .filter((l) => /node Ready|up in/.test(l))
      .join('\n') + '\n',
  );
  const during = diffHost(before, snapshotHost());
  // The snapshot sees what the node does, or the comparison below would prove nothing.
  assert.ok(
    during.some((d) => d === 'interface added: cni0'),
    during.join('\n'),
  );
  assert.ok(
    during.some((d) => d.startsWith('nft table added: ip kube-proxy')),
    during.join('\n'),
  );
  // kube-router's NetworkPolicy chains (iptables-nft) are in what the snapshot records.
  assert.ok(
    snapshotHost().nftChains?.includes(`ip filter ${POLICY_FORWARD_CHAIN}`),
    'kube-router hooked its chain into the filter table',
  );
  const downLog = cli('down');
  assert.match(downLog, /host restored/);
  assert.deepEqual(diffHost(before, snapshotHost()), []);
});

test('after a crash (every daemon SIGKILLed, pods still running) the next up cleans up first', () => {
  const before = snapshotHost();
  cli('up', '--node');
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as TestEnv;
  for (const s of state.servers) {
    for (const pid of [s.pid, ...(s.extraPids ?? [])]) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  const upLog = cli('up', '--node');
  assert.match(upLog, /dead servers behind|host changes behind/);
  cli('down');
  assert.deepEqual(diffHost(before, snapshotHost()), []);
});
