/** rabbitmqctl against the test environment's broker, for tests that act on the broker itself. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Stack } from './stack.js';

const run = promisify(execFile);

/** Runs rabbitmqctl against the stack's broker (node name, epmd and cookie from its process). */
export async function rabbitmqctl(stack: Stack, ...args: string[]): Promise<string> {
  const rec = (stack.env.servers ?? []).find((s) => s.name === 'rabbitmq');
  assert.ok(rec, 'the test environment has a rabbitmq server');
  const environ = readFileSync(`/proc/${rec.pid}/environ`, 'utf8').split('\0');
  const pick = (name: string): string => {
    const hit = environ.find((e) => e.startsWith(`${name}=`));
    assert.ok(hit, `the broker's environment has ${name}`);
    return hit.slice(name.length + 1);
  };
  const home = pick('HOME');
  const cookie = readFileSync(join(home, '.erlang.cookie'), 'utf8').trim();
  const { stdout } = await run('rabbitmqctl', ['--erlang-cookie', cookie, ...args], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      RABBITMQ_NODENAME: pick('RABBITMQ_NODENAME'),
      ERL_EPMD_PORT: pick('ERL_EPMD_PORT'),
      ERL_EPMD_ADDRESS: pick('ERL_EPMD_ADDRESS'),
    },
    timeout: 120_000,
  });
  return stdout;
}
