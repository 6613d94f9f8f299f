/**
 * Two terminals talk: the `gossip` CLI as real processes against real api, engine and
 * gateway processes. Each user registers (saving the gateway URL), they become contacts
 * with `add`/`accept`, `gossip listen` runs in the background for each, and `gossip send`
 * from the other side shows up there, with sender and time, and is acked (deleted).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { repoRoot } from './api-process.js';
import { DeliveryStack, eventually, type Gw } from './delivery-stack.js';

const BIN = join(repoRoot, 'packages/client/bin/gossip.mjs');
const stack = new DeliveryStack();
let gw: Gw;
const homes: string[] = [];
const listeners: ChildProcess[] = [];
const suffix = Math.random().toString(36).slice(2, 8);
const ALICE = `alice_${suffix}`;
const BOB = `bob_${suffix}`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function envFor(home: string, password: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    GOSSIP_HOME: home,
    GOSSIP_PASSWORD: password,
  };
}

function gossip(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: tmpdir(),
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function listen(
  env: Record<string, string>,
  ...args: string[]
): { child: ChildProcess; out: () => string } {
  const child = spawn(process.execPath, [BIN, 'listen', ...args], {
    cwd: tmpdir(),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  listeners.push(child);
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  return { child, out: () => out };
}

let envA: Record<string, string>;
let envB: Record<string, string>;

before(async () => {
  await stack.startApi();
  await stack.startEngine();
  gw = await stack.startGateway();
  homes.push(await mkdtemp(join(tmpdir(), 'gossip-chat-a-')));
  homes.push(await mkdtemp(join(tmpdir(), 'gossip-chat-b-')));
  envA = envFor(homes[0] as string, `alice password ${suffix}`);
  envB = envFor(homes[1] as string, `bob password ${suffix}`);
});

after(async () => {
  for (const l of listeners) l.kill('SIGKILL');
  await stack.close();
  for (const h of homes) await rm(h, { recursive: true, force: true });
});

test('gossip send and gossip chat in one process reach gossip listen in another, both ways, and are acked', async () => {
  const server = stack.api.url;
  for (const [user, env] of [
    [ALICE, envA],
    [BOB, envB],
  ] as const) {
    const r = await gossip(
      ['register', '--server', server, '--user', user, '--gateway', gw.wsUrl],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
  }
  const add = await gossip(['add', ALICE], envB);
  assert.equal(add.code, 0, add.stderr);
  const accept = await gossip(['accept', BOB], envA);
  assert.equal(accept.code, 0, accept.stderr);
  const contacts = await gossip(['contacts'], envB);
  assert.match(contacts.stdout, new RegExp(`${ALICE}\\s+accepted`));

  const bobListens = listen(envB);
  const aliceListens = listen(envA);
  await eventually(
    () => bobListens.out().includes('listening as') && aliceListens.out().includes('listening as'),
    'both listeners to start',
    60_000,
  );

  const sent = await gossip(['send', BOB, 'hello', 'from', 'the', 'cli'], envA);
  assert.equal(sent.code, 0, sent.stderr);
  assert.match(sent.stdout, new RegExp(`sent to ${BOB} ✓`));
  await eventually(
    () => new RegExp(`\\d\\d:\\d\\d:\\d\\d ${ALICE}: hello from the cli`).test(bobListens.out()),
    'bob’s listener to print alice’s message',
    30_000,
  );

  const reply = await gossip(['send', ALICE, 'hi alice'], envB);
  assert.equal(reply.code, 0, reply.stderr);
  await eventually(
    () => new RegExp(`\\d\\d:\\d\\d:\\d\\d ${BOB}: hi alice`).test(aliceListens.out()),
    'alice’s listener to print bob’s reply',
    30_000,
  );

  // A decrypted message is shown, never obeyed: terminal escapes (retitle the window,
  // clear the screen) and a newline that would forge another sender's line are escaped.
  const hostile = '\u001b]0;pwned\u0007\u001b[2Jcleared\n00:00:00 mallory: forged';
  const sentHostile = await gossip(['send', BOB, hostile], envA);
  assert.equal(sentHostile.code, 0, sentHostile.stderr);
  await eventually(
    () => bobListens.out().includes('cleared'),
    'bob’s listener to print the hostile message',
    30_000,
  );
  const shown = bobListens.out();
  assert.ok(!shown.includes('\u001b') && !shown.includes('\u0007'), 'no raw control character');
  assert.ok(
    shown.includes(`${ALICE}: \\x1b]0;pwned\\x07\\x1b[2Jcleared\\x0a00:00:00 mallory: forged`),
    shown,
  );
  assert.doesNotMatch(shown, /^00:00:00 mallory/m);

  // Printed means acked: nothing is left in MongoDB for either of them.
  await eventually(
    async () =>
      (await stack.db.collection('messages').countDocuments({ to: { $in: [ALICE, BOB] } })) === 0,
    'the printed messages to be acked and deleted',
  );
  assert.equal(bobListens.out().split('hello from the cli').length - 1, 1, 'printed once');

  // Interactive: alice types a line in `gossip chat`; bob's listener prints it, and
  // alice's chat shows ✓ (accepted) then ✓✓ (bob's device acked it).
  const chat = spawn(process.execPath, [BIN, 'chat', BOB], {
    cwd: tmpdir(),
    env: envA,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  listeners.push(chat);
  let chatOut = '';
  chat.stdout.on('data', (c: Buffer) => (chatOut += c.toString()));
  chat.stderr.on('data', (c: Buffer) => (chatOut += c.toString()));
  await eventually(() => chatOut.includes('connected to'), 'the chat to connect', 60_000);
  chat.stdin.write('typed in the chat\n');
  await eventually(
    () => new RegExp(`${ALICE}: typed in the chat`).test(bobListens.out()),
    'bob’s listener to print the chat line',
    30_000,
  );
  await eventually(() => /✓✓ typed in the chat/.test(chatOut), 'the ✓✓ tick in the chat', 30_000);
  assert.match(chatOut, /✓ {2}typed in the chat/);
  // They talked v2 (both publish v2 keys), and the CLI says so.
  assert.match(chatOut, new RegExp(`end-to-end: v2 \\(ratchet session with ${BOB}\\)`));
  const contactsAfter = await gossip(['contacts'], envB);
  assert.match(contactsAfter.stdout, new RegExp(`${ALICE}\\s+accepted\\s+e2e v2$`, 'm'));
  const whoami = await gossip(['whoami'], envB);
  assert.match(whoami.stdout, /^v2 keys: published, \d+ one-time prekeys left$/m);
  const chatExited = new Promise((r) => chat.once('exit', r));
  chat.stdin.end(); // Ctrl-D
  assert.equal(await chatExited, 0);

  for (const l of [bobListens, aliceListens]) {
    const exited = new Promise((r) => l.child.once('exit', r));
    l.child.kill('SIGTERM');
    assert.equal(await exited, 0);
  }
});

test('gossip send-file reaches gossip listen --files DIR byte-identical, never overwriting a file there', async () => {
  // ALICE and BOB are the contacts the first test registered.
  const files = join(homes[1] as string, 'received');
  await mkdir(files);
  await writeFile(join(files, 'photo.jpg'), 'already here');
  const photo = randomBytes(200_000); // several chunks, several parts of nothing in particular
  const path = join(homes[0] as string, 'photo.jpg');
  await writeFile(path, photo);

  const bobListens = listen(envB, '--files', files);
  await eventually(() => bobListens.out().includes('listening as'), 'bob’s listener', 60_000);
  const sent = await gossip(['send-file', BOB, path], envA);
  assert.equal(sent.code, 0, sent.stderr);
  assert.match(sent.stdout, new RegExp(`sent photo.jpg \\(200000 bytes\\) to ${BOB} ✓`));
  assert.match(sent.stderr, /uploading photo.jpg: 100%/);
  const saved = join(files, 'photo (1).jpg');
  await eventually(
    () => bobListens.out().includes(`saved as ${saved}`),
    'bob’s listener to save the file',
    30_000,
  );
  assert.match(bobListens.out(), new RegExp(`${ALICE} sent photo.jpg \\(200000 bytes\\)`));
  assert.ok((await readFile(saved)).equals(photo), 'the saved file is byte-identical');
  assert.equal(await readFile(join(files, 'photo.jpg'), 'utf8'), 'already here');
  assert.deepEqual((await readdir(files)).sort(), ['photo (1).jpg', 'photo.jpg'], 'no temp left');

  const missing = await gossip(['send-file', BOB, join(homes[0] as string, 'nope.bin')], envA);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read .*nope\.bin/);

  const exited = new Promise((r) => bobListens.child.once('exit', r));
  bobListens.child.kill('SIGTERM');
  assert.equal(await exited, 0);
});
