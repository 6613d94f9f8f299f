/**
 * On Kubernetes the api pod often starts before its MongoDB answers. Found on the real test
 * node: the driver's implicit connect fails once, and from then on every operation says
 * "Topology is closed", so the api never became Ready although MongoDB came up seconds
 * later. Here the api process starts against a MongoDB address where nothing listens yet;
 * a proxy to the real FerretDB opens there later, and /readyz must turn 200.
 */
import assert from 'node:assert/strict';
import { createConnection, createServer, type Server } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { eventually, freePort, startProcess, testEnv, type ManagedProcess } from '@gossip/testenv';
import { apiEnv } from './helpers.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const MAIN = join(repoRoot, 'services/api/src/main.ts');
let proc: ManagedProcess | undefined;
let proxy: Server | undefined;

after(async () => {
  await proc?.stop(5000);
  proxy?.close();
});

test('an api started before MongoDB answers becomes ready once MongoDB does', async () => {
  const mongoPort = await freePort();
  const [port, opsPort] = [await freePort(), await freePort()];
  proc = await startProcess({
    command: process.execPath,
    args: ['--import', 'tsx', MAIN],
    cwd: repoRoot,
    cleanEnv: true,
    env: apiEnv({
      API_PORT: String(port),
      API_HOST: '127.0.0.1',
      API_OPS_PORT: String(opsPort),
      API_OPS_HOST: '127.0.0.1',
      API_MONGO_URL: `mongodb://127.0.0.1:${mongoPort}/`,
    }),
    readyUrl: `http://127.0.0.1:${opsPort}/healthz`,
  });
  const readyz = async (): Promise<number> =>
    (await fetch(`http://127.0.0.1:${opsPort}/readyz`, { signal: AbortSignal.timeout(3000) }))
      .status;
  // Past the driver's 5 s server selection, so its first connect has failed for good.
  await eventually(
    () => proc!.output().includes('could not create indexes'),
    'the first MongoDB attempt to fail',
    20_000,
  );
  assert.equal(await readyz(), 503);
  // MongoDB "starts": a proxy to the real FerretDB opens on the address the api was given.
  const target = new URL(testEnv().mongoUrl);
  proxy = createServer((c) => {
    const up = createConnection({ host: target.hostname, port: Number(target.port) });
    c.pipe(up).pipe(c);
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
  });
  await new Promise<void>((r) => proxy!.listen(mongoPort, '127.0.0.1', r));
  await eventually(async () => (await readyz()) === 200, 'the api to become ready', 30_000, 500);
});
