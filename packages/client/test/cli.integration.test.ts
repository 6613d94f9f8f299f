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
/** The 60-digit safety number `gossip fingerprint` prints last. */
const safety = (s: string): string => digits(s).slice(-60);

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
  assert.equal(digits(a.stdout).length, 90, 'the contact’s fingerprint and the safety number');
  assert.equal(safety(a.stdout), safety(b.stdout));
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

test('a signed rotation is followed; an identity reset is exit code 3 until the compared fingerprint is trusted', async () => {
  // Bob rotates on the machine holding his keys: the change is signed, alice follows it.
  const rotate = await gossip(['rotate-keys'], { GOSSIP_HOME: homeB, GOSSIP_PASSWORD: pwB });
  assert.equal(rotate.code, 0, rotate.stderr);
  assert.doesNotMatch(rotate.stderr, /IDENTITY RESET/);
  const followed = await gossip(['fingerprint', BOB], { GOSSIP_HOME: homeA });
  assert.equal(followed.code, 0, followed.stdout + followed.stderr);
  const bobSide = await gossip(['fingerprint', ALICE], { GOSSIP_HOME: homeB });
  assert.equal(safety(followed.stdout), safety(bobSide.stdout));

  // Bob logs in on a machine without his keys and publishes new ones: unsigned.
  const homeB2 = await mkdtemp(join(tmpdir(), 'gossip-cli-b2-'));
  try {
    const login = await gossip(['login', '--server', api.url, '--user', BOB], {
      GOSSIP_HOME: homeB2,
      GOSSIP_PASSWORD: pwB,
    });
    assert.equal(login.code, 0, login.stderr);
    const reset = await gossip(['rotate-keys'], { GOSSIP_HOME: homeB2, GOSSIP_PASSWORD: pwB });
    assert.equal(reset.code, 0, reset.stderr);
    assert.match(reset.stderr, /IDENTITY RESET/);
    const warned = await gossip(['fingerprint', BOB], { GOSSIP_HOME: homeA });
    assert.equal(warned.code, 3, warned.stdout + warned.stderr);
    assert.match(warned.stderr, /IDENTITY RESET for/);
    assert.match(warned.stderr, /NOT signed by the keys you trusted/);

    // Trusting needs the fingerprint alice compared with bob: a wrong one is refused.
    const whoami = await gossip(['whoami'], { GOSSIP_HOME: homeB2 });
    const bobFingerprint = digits(/fingerprint: (.*)/.exec(whoami.stdout)?.[1] ?? '');
    assert.equal(bobFingerprint.length, 30);
    const wrongDigits = bobFingerprint.replace(/^./, (d) => String((Number(d) + 1) % 10));
    const wrong = await gossip(['trust', BOB, wrongDigits], { GOSSIP_HOME: homeA });
    assert.equal(wrong.code, 1, wrong.stdout + wrong.stderr);
    assert.match(wrong.stderr, /does not match/);
    assert.equal((await gossip(['fingerprint', BOB], { GOSSIP_HOME: homeA })).code, 3);
    const trust = await gossip(['trust', BOB, ...(bobFingerprint.match(/\d{5}/g) ?? [])], {
      GOSSIP_HOME: homeA,
    });
    assert.equal(trust.code, 0, trust.stderr);
    assert.match(trust.stdout, /Not marked verified/);
    const a = await gossip(['fingerprint', BOB], { GOSSIP_HOME: homeA });
    const b = await gossip(['fingerprint', ALICE], { GOSSIP_HOME: homeB2 });
    assert.equal(a.code, 0, a.stderr);
    assert.equal(safety(a.stdout), safety(b.stdout));
    assert.doesNotMatch(a.stdout, /Marked verified/);

    // Verified, then a (signed) change: the CLI says to verify again.
    const verify = await gossip(['verify', BOB, safety(a.stdout)], { GOSSIP_HOME: homeA });
    assert.equal(verify.code, 0, verify.stderr);
    assert.match(
      (await gossip(['fingerprint', BOB], { GOSSIP_HOME: homeA })).stdout,
      /Marked verified/,
    );
    const again = await gossip(['rotate-keys'], { GOSSIP_HOME: homeB2, GOSSIP_PASSWORD: pwB });
    assert.equal(again.code, 0, again.stderr);
    const reverify = await gossip(['fingerprint', BOB], { GOSSIP_HOME: homeA });
    assert.equal(reverify.code, 0, reverify.stderr);
    assert.match(reverify.stdout, /changed since you verified them/);
  } finally {
    await rm(homeB2, { recursive: true, force: true });
  }
});

test('plain http:// to a host that is not loopback is refused unless --insecure', async () => {
  // 0.0.0.0 is not loopback by name, yet connecting to it stays on this machine.
  const refused = await gossip(['login', '--server', 'http://0.0.0.0:9', '--user', ALICE], {
    GOSSIP_HOME: homeA,
    GOSSIP_PASSWORD: pwA,
  });
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /refusing plain http:\/\/0\.0\.0\.0:9/);
  assert.match(refused.stderr, /--insecure/);
  const allowed = await gossip(
    ['login', '--insecure', '--server', 'http://0.0.0.0:9', '--user', ALICE],
    { GOSSIP_HOME: homeA, GOSSIP_PASSWORD: pwA },
  );
  assert.equal(allowed.code, 1);
  assert.match(allowed.stderr, /cannot reach the Gossip server/);
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
