/**
 * The `gossip` CLI as a real process against the real api process: register two users,
 * print matching safety numbers, whoami, clear errors for a wrong password and an
 * unreachable server, and the key-change warning.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { repoRoot, startApiProcess, type RunningApi } from './api-process.js';

const BIN = join(repoRoot, 'packages/client/bin/gossip.mjs');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function gossip(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: tmpdir(), // the bin must work from anywhere
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const digits = (s: string): string => (s.match(/\d{5}/g) ?? []).join('');

let api: RunningApi;
let homeA: string;
let homeB: string;
const suffix = Math.random().toString(36).slice(2, 8);
const ALICE = `alice_${suffix}`;
const BOB = `bob_${suffix}`;
const pwA = `alice cli password ${suffix}`;
const pwB = `bob cli password ${suffix}`;

before(async () => {
  api = await startApiProcess();
  homeA = await mkdtemp(join(tmpdir(), 'gossip-cli-a-'));
  homeB = await mkdtemp(join(tmpdir(), 'gossip-cli-b-'));
});

after(async () => {
  await api?.stop();
  await rm(homeA, { recursive: true, force: true });
  await rm(homeB, { recursive: true, force: true });
});

test('register creates the account and 0600 key files under <home>/<host>/<user>', async () => {
  const a = await gossip(['register', '--server', api.url, '--user', ALICE], {
    GOSSIP_HOME: homeA,
    GOSSIP_PASSWORD: pwA,
  });
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, new RegExp(`Registered ${ALICE}`));
  const host = new URL(api.url).host.replace(':', '_');
  const dir = join(homeA, host, ALICE);
  assert.equal((await stat(join(dir, 'identity.json'))).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, 'session.json'))).mode & 0o777, 0o600);
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  const b = await gossip(['register', '--server', api.url, '--user', BOB], {
    GOSSIP_HOME: homeB,
    GOSSIP_PASSWORD: pwB,
  });
  assert.equal(b.code, 0, b.stderr);
  // Neither the password nor the private key is printed.
  assert.ok(!a.stdout.includes(pwA) && !a.stderr.includes(pwA));
});

test('fingerprint prints the same 60-digit safety number on both sides', async () => {
  const a = await gossip(['fingerprint', BOB], { GOSSIP_HOME: homeA });
  const b = await gossip(['fingerprint', ALICE], { GOSSIP_HOME: homeB });
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(digits(a.stdout).length, 60);
  assert.equal(digits(a.stdout), digits(b.stdout));
});

test('whoami shows the account and its own fingerprint', async () => {
  const r = await gossip(['whoami'], { GOSSIP_HOME: homeA });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^${ALICE} on ${api.url.replace(/\./g, '\\.')}`, 'm'));
  assert.match(r.stdout, /fingerprint: (\d{5} ){5}\d{5}/);
});

test('login with a wrong password fails clearly; with the right one it succeeds', async () => {
  const bad = await gossip(['login', '--server', api.url, '--user', ALICE], {
    GOSSIP_HOME: homeA,
    GOSSIP_PASSWORD: 'definitely wrong',
  });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /wrong username or password/);
  const good = await gossip(['login', '--server', api.url, '--user', ALICE], {
    GOSSIP_HOME: homeA,
    GOSSIP_PASSWORD: pwA,
  });
  assert.equal(good.code, 0, good.stderr);
  assert.doesNotMatch(good.stderr, /no private keys/);
});

test('a contact’s key change is a warning with exit code 3 until trusted', async () => {
  const rotate = await gossip(['rotate-keys'], { GOSSIP_HOME: homeB });
  assert.equal(rotate.code, 0, rotate.stderr);
  const warned = await gossip(['fingerprint', BOB], { GOSSIP_HOME: homeA });
  assert.equal(warned.code, 3, warned.stdout + warned.stderr);
  assert.match(warned.stderr, /keys have changed/);
  const trust = await gossip(['trust', BOB], { GOSSIP_HOME: homeA });
  assert.equal(trust.code, 0, trust.stderr);
  const a = await gossip(['fingerprint', BOB], { GOSSIP_HOME: homeA });
  const b = await gossip(['fingerprint', ALICE], { GOSSIP_HOME: homeB });
  assert.equal(a.code, 0, a.stderr);
  assert.equal(digits(a.stdout), digits(b.stdout));
});

test('an unreachable server and bad usage give clear errors', async () => {
  const down = await gossip(['login', '--server', 'http://127.0.0.1:9', '--user', ALICE], {
    GOSSIP_HOME: homeA,
    GOSSIP_PASSWORD: pwA,
  });
  assert.equal(down.code, 1);
  assert.match(down.stderr, /cannot reach the Gossip server at http:\/\/127\.0\.0\.1:9/);
  const usage = await gossip(['fingerprint'], { GOSSIP_HOME: homeA });
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /needs exactly one CONTACT/);
  const unknown = await gossip(['fingerprint', `nobody_${suffix}`], { GOSSIP_HOME: homeA });
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no such user/);
});
