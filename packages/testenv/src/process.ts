/**
 * Runs a Gossip service (or any command) as a real child process for an
 * integration test: waits until it is ready, keeps its output for assertions
 * (for example "the logs hold no plaintext"), and stops it by signal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface StartProcessOptions {
  /** Command to run, for example `process.execPath`. */
  command: string;
  args: string[];
  /** Extra environment; merged over the parent's unless `cleanEnv` is set. */
  env?: Record<string, string>;
  /** Start from an empty environment plus PATH and HOME, so config comes only from `env`. */
  cleanEnv?: boolean;
  cwd?: string;
  /** An http URL that answers 2xx once the process is ready. */
  readyUrl?: string;
  /** Or: a string or pattern that appears in its output once ready. */
  readyOutput?: string | RegExp;
  /** How long to wait for readiness before failing (ms). @default 30000 */
  readyTimeoutMs?: number;
  /** Also write the output to this file. */
  logFile?: string;
}

export interface ManagedProcess {
  child: ChildProcess;
  pid: number;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or signal name) once the process ended. */
  exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number | string>;
  /** SIGKILL now: a crash. */
  kill9(): Promise<number | string>;
}

export async function startProcess(opts: StartProcessOptions): Promise<ManagedProcess> {
  const baseEnv: NodeJS.ProcessEnv = opts.cleanEnv
    ? { PATH: process.env.PATH, HOME: process.env.HOME }
    : { ...process.env };
  const child = spawn(opts.command, opts.args, {
    cwd: opts.cwd,
    env: { ...baseEnv, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let log: ReturnType<typeof createWriteStream> | undefined;
  if (opts.logFile) {
    mkdirSync(dirname(opts.logFile), { recursive: true });
    log = createWriteStream(opts.logFile, { flags: 'a' });
  }
  const onData = (chunk: Buffer): void => {
    out += chunk.toString('utf8');
    log?.write(chunk);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | string>((resolveExit) => {
    child.on('exit', (code, signal) => {
      log?.end();
      resolveExit(code ?? signal ?? 'unknown');
    });
  });
  let done = false;
  void exited.then(() => {
    done = true;
  });
  if (child.pid === undefined) {
    throw new Error(`could not start ${opts.command} ${opts.args.join(' ')}`);
  }
  const managed: ManagedProcess = {
    child,
    pid: child.pid,
    output: () => out,
    exited,
    async stop(graceMs = 10_000) {
      if (done) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
    async kill9() {
      if (!done) child.kill('SIGKILL');
      return exited;
    },
  };

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  const failWith = async (why: string): Promise<never> => {
    await managed.kill9();
    throw new Error(`${opts.command} ${opts.args.join(' ')} ${why}; its output:\n${out}`);
  };
  while (opts.readyUrl || opts.readyOutput) {
    if (done) await failWith(`exited with ${await exited} before it was ready`);
    if (Date.now() > deadline) await failWith('was not ready in time');
    if (opts.readyOutput) {
      const ready =
        typeof opts.readyOutput === 'string'
          ? out.includes(opts.readyOutput)
          : opts.readyOutput.test(out);
      if (ready) break;
    } else if (opts.readyUrl) {
      try {
        const res = await fetch(opts.readyUrl, { signal: AbortSignal.timeout(1000) });
        if (res.ok) break;
      } catch {
        // not listening yet
      }
    }
    await sleep(100);
  }
  return managed;
}
