/**
 * `npm start` as a user runs it: typed into a real terminal (tmux, on a private server
 * socket), with its own RabbitMQ, Redis and FerretDB under a scratch GOSSIP_STACK_DIR.
 * Ctrl-C must print "stopped" and leave no process of the stack behind, the backing
 * servers included; so must a closed terminal (SIGHUP) and a kill -9 of the launcher (its
 * watchdog). The api and gateway listen on loopback only unless GOSSIP_HOST asks for more.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, freePort, repoRoot, testEnv, uniqueName } from '@gossip/testenv';
import { tcpOpen } from '../src/servers.js';

const connects = (host: string, port: number): Promise<boolean> => tcpOpen(port, host);

const scratch = join(testEnv().dir, 'scratch', uniqueName('npm-start'));
const stackDir = join(scratch, 'stack');
// The terminal logs go here from the first keystroke: tmux's pipe-pane does not create it.
mkdirSync(scratch, { recursive: true });
const socket = uniqueName('h6tmux');
const tmux = (...args: string[]): string =>
  execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });

/** Every process of this stack: it has our GOSSIP_STACK_DIR, or runs in a folder under it. */
function stackProcesses(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      if (environ.includes(`GOSSIP_STACK_DIR=${stackDir}`) || cwd.startsWith(stackDir)) {
        found.push(`${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')}`);
      }
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

interface Running {
  session: string;
  log: string;
  ports: Record<'api' | 'apiOps' | 'gateway' | 'gatewayOps' | 'engine' | 'web', number>;
  output(): string;
}

/** Types `npm start` into a new terminal and waits for its banner. */
async function npmStart(name: string, extraEnv: Record<string, string> = {}): Promise<Running> {
  const ports = {
    api: await freePort(),
    apiOps: await freePort(),
    gateway: await freePort(),
    gatewayOps: await freePort(),
    engine: await freePort(),
    web: await freePort(),
  };
  const log = join(scratch, `${name}.terminal.log`);
  const env = {
    GOSSIP_STACK_DIR: stackDir,
    GOSSIP_API_PORT: ports.api,
    GOSSIP_API_OPS_PORT: ports.apiOps,
    GOSSIP_GATEWAY_PORT: ports.gateway,
    GOSSIP_GATEWAY_OPS_PORT: ports.gatewayOps,
    GOSSIP_ENGINE_PORT: ports.engine,
    GOSSIP_WEB_PORT: ports.web,
    // The OpenAPI UI is not what this tests; its start-up is the slowest part of the api's.
    API_DOCS: 'false',
    ...extraEnv,
  };
  const vars = Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  tmux('new-session', '-d', '-s', name, '-x', '200', '-y', '50', '-c', repoRoot, 'bash --norc');
  tmux('pipe-pane', '-t', name, `cat >> ${log}`);
  tmux('send-keys', '-t', name, `${vars} npm start`, 'Enter');
  const output = (): string => {
    try {
      return readFileSync(log, 'utf8');
    } catch {
      return '';
    }
  };
  await eventually(
    () =>
      output().includes('press Ctrl-C to stop everything') || /\[gossip\] failed/.test(output()),
    'npm start printed its banner',
    600_000,
    1000,
  );
  assert.doesNotMatch(output(), /\[gossip\] failed/, output());
  return { session: name, log, ports, output };
}

async function nothingLeft(what: string): Promise<void> {
  await eventually(
    () => stackProcesses().length === 0,
    `no process of the stack left after ${what}`,
    90_000,
    500,
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}; left:\n${stackProcesses().join('\n')}`);
  });
}

describe('npm start in a real terminal', () => {
  after(() => {
    try {
      tmux('kill-server');
    } catch {
      // no server left
    }
    rmSync(join(stackDir, 'data'), { recursive: true, force: true });
  });

  it('listens on loopback only by default; Ctrl-C prints "stopped" and leaves no process of the stack, backing servers included', async () => {
    const run = await npmStart('ctrlc');
    const before = stackProcesses();
    assert.ok(
      before.some((p) => /redis-server/.test(p)) &&
        before.some((p) => /beam\.smp/.test(p)) &&
        before.some((p) => /ferretdb/.test(p)),
      `the stack runs its own RabbitMQ, Redis and FerretDB:\n${before.join('\n')}`,
    );
    for (const port of [run.ports.api, run.ports.gateway, run.ports.web]) {
      assert.equal(await connects('127.0.0.1', port), true, `127.0.0.1:${port} answers`);
      // Another loopback address reaches only a listener on every interface.
      assert.equal(await connects('127.0.0.2', port), false, `127.0.0.2:${port} is refused`);
    }

    tmux('send-keys', '-t', run.session, 'C-c');
    await eventually(() => run.output().includes('[gossip] stopped'), '"stopped" printed', 90_000);
    await nothingLeft('Ctrl-C');
  });

  it('GOSSIP_HOST=0.0.0.0 listens on every interface, the ops ports still on loopback; a closed terminal (SIGHUP) leaves no process', async () => {
    const run = await npmStart('sighup', { GOSSIP_HOST: '0.0.0.0' });
    for (const port of [run.ports.api, run.ports.gateway, run.ports.web]) {
      assert.equal(await connects('127.0.0.2', port), true, `127.0.0.2:${port} answers`);
    }
    for (const port of [run.ports.apiOps, run.ports.gatewayOps, run.ports.engine]) {
      assert.equal(await connects('127.0.0.2', port), false, `ops 127.0.0.2:${port} is refused`);
    }
    tmux('kill-session', '-t', run.session);
    await nothingLeft('closing the terminal');
  });

  it('a kill -9 of the launcher: its watchdog ends the services and the backing servers', async () => {
    await npmStart('kill9');
    const launcher = stackProcesses().find((p) =>
      /^\d+ node --import tsx scripts\/start\.ts/.test(p),
    );
    assert.ok(launcher, `the launcher process:\n${stackProcesses().join('\n')}`);
    process.kill(Number(launcher.split(' ')[0]), 'SIGKILL');
    await nothingLeft('kill -9 of the launcher');
    assert.match(
      readFileSync(join(stackDir, 'logs', 'watchdog.log'), 'utf8'),
      /launcher gone: ending/,
    );
  });
});
