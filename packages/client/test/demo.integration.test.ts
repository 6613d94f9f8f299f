/**
 * `npm run demo` (scripts/demo.ts) as a real process against real api, engine and gateway
 * processes: two scripted users chat, the printed table shows MongoDB's stored bodies
 * (ciphertext) beside the plaintext the users read; and a clear error when no stack runs.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { repoRoot } from './api-process.js';
import { DeliveryStack, freePort, type Gw } from './delivery-stack.js';

const stack = new DeliveryStack();
let gw: Gw;

function demo(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', ...args], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

before(async () => {
  await stack.startApi();
  await stack.startEngine();
  gw = await stack.startGateway();
});

after(async () => {
  await stack.close();
});

test('the demo prints stored ciphertext beside what the users read', async () => {
  const r = await demo([
    '--api',
    stack.api.url,
    '--gateway',
    gw.wsUrl,
    '--mongo',
    stack.env.mongoUrl,
    '--mongo-db',
    stack.dbName,
  ]);
  assert.equal(r.code, 0, r.err + r.out);
  assert.match(r.out, /what MongoDB stored \(messages\.body\)/);
  const rows = r.out
    .split('\n')
    .filter((l) => / -> /.test(l) && l.includes(' | ') && !l.startsWith('from -> to'));
  assert.equal(rows.length, 5, r.out);
  for (const row of rows) {
    const [, stored, read] = row.split(' | ').map((c) => c.trim());
    assert.ok(stored && read, row);
    assert.ok(!stored.includes(read.slice(0, 20)), `stored body shows plaintext: ${row}`);
  }
  assert.match(r.out, /Hi Bob! Is this thing really end-to-end encrypted\?/);
  assert.match(r.out, /plaintext found in stored bodies: 0\./);
  assert.match(r.out, /Documents left in MongoDB for these messages after the acks: 0\./);
});

test('without a running stack the demo says to start it with npm start', async () => {
  const port = await freePort();
  const r = await demo([
    '--api',
    `http://127.0.0.1:${port}`,
    '--gateway',
    `ws://127.0.0.1:${port}/ws`,
  ]);
  assert.equal(r.code, 1);
  assert.match(r.err, /start it with npm start/);
});
