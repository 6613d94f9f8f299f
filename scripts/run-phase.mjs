// One phase of a test run: a child command in its own process group, with a line when it
// starts and one with its minutes when it ends, killed (the whole group, so no test
// process is left behind) when it outlives its time limit. Used by test.mjs and
// test-cluster.mjs so a hanging step fails with a message instead of hanging CI.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

const minutes = (ms) => (ms / 60_000).toFixed(1);

/**
 * Runs `cmd args` with inherited stdio; resolves to its exit code (1 when killed or
 * signalled). `timeoutMs` ends it: SIGTERM to its group, SIGKILL 20 s later.
 */
export function runPhase(name, cmd, args, { cwd, env, timeoutMs }) {
  const t0 = Date.now();
  process.stderr.write(`[test] ${name}: started (time limit ${minutes(timeoutMs)} min)\n`);
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env, stdio: 'inherit', detached: true });
    let timedOut = false;
    const signal = (sig) => {
      try {
        process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      process.stderr.write(
        `[test] ${name}: still running after ${minutes(timeoutMs)} min: stopping it (SIGTERM, then SIGKILL)\n`,
      );
      signal('SIGTERM');
      setTimeout(() => signal('SIGKILL'), 20_000).unref();
    }, timeoutMs);
    // Ctrl-C or CI cancelling this runner stops the phase, and then the runner itself.
    let interrupted = false;
    const forward = () => {
      interrupted = true;
      signal('SIGTERM');
    };
    process.once('SIGINT', forward);
    process.once('SIGTERM', forward);
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      const rc = timedOut ? 1 : (code ?? 1);
      const how = timedOut ? 'TIMED OUT' : rc === 0 ? 'passed' : `FAILED (exit ${code ?? sig})`;
      process.stderr.write(`[test] ${name}: ${how} in ${minutes(Date.now() - t0)} min\n`);
      if (interrupted) {
        process.stderr.write(`[test] interrupted: stopping after ${name}\n`);
        process.exit(130);
      }
      resolve(rc);
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      process.stderr.write(`[test] ${name}: could not start: ${err.message}\n`);
      resolve(1);
    });
  });
}

/**
 * Runs test files with node's test runner through tsx, one file at a time (the machine is
 * small and the files share the servers), as one phase: the argument list test.mjs and
 * test-cluster.mjs both use. `testTimeoutMs` is the per-test limit the runner enforces
 * inside a file; `timeoutMs` the phase's, as for {@link runPhase}.
 */
export function runTests(name, files, { cwd, env, testTimeoutMs, timeoutMs }) {
  return runPhase(
    name,
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      '--test-reporter=spec',
      '--test-concurrency=1',
      `--test-timeout=${testTimeoutMs}`,
      ...files,
    ],
    { cwd, env, timeoutMs },
  );
}

/**
 * Starts `cmd args` in the background, in its own process group, at the lowest CPU and I/O
 * priority (`nice -n 19`, `ionice -c 3`), its output in `logFile`; for work that may overlap
 * a phase in the foreground without taking its CPU (a first run's builds while tests run).
 * `wait()` resolves to its exit code (1 when killed or signalled) and prints how it ended;
 * past `timeoutMs` its group is stopped (SIGTERM, SIGKILL 20 s later). It is stopped too
 * when this runner exits first.
 */
export function startBackground(name, cmd, args, { cwd, env, timeoutMs, logFile }) {
  const t0 = Date.now();
  const out = openSync(logFile, 'w');
  const child = spawn('nice', ['-n', '19', 'ionice', '-c', '3', cmd, ...args], {
    cwd,
    env,
    stdio: ['ignore', out, out],
    detached: true,
  });
  closeSync(out);
  process.stderr.write(
    `[test] ${name}: started in the background at the lowest priority (time limit ${minutes(timeoutMs)} min; output in ${logFile})\n`,
  );
  const signal = (sig) => {
    try {
      process.kill(-child.pid, sig);
    } catch {
      // already gone
    }
  };
  let timedOut = false;
  let ended;
  const timer = setTimeout(() => {
    timedOut = true;
    signal('SIGTERM');
    setTimeout(() => signal('SIGKILL'), 20_000).unref();
  }, timeoutMs);
  timer.unref();
  const stopOnExit = () => signal('SIGKILL');
  process.on('exit', stopOnExit);
  const done = new Promise((resolve) => {
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      process.off('exit', stopOnExit);
      ended = { code, sig, at: Date.now() };
      resolve(timedOut ? 1 : (code ?? 1));
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      process.off('exit', stopOnExit);
      ended = { code: null, sig: err.message, at: Date.now() };
      resolve(1);
    });
  });
  return {
    async wait() {
      const waitFrom = Date.now();
      if (!ended) process.stderr.write(`[test] ${name}: waiting for it to finish\n`);
      const rc = await done;
      const how = timedOut
        ? `TIMED OUT after ${minutes(timeoutMs)} min`
        : rc === 0
          ? 'passed'
          : `FAILED (exit ${ended.code ?? ended.sig})`;
      process.stderr.write(
        `[test] ${name}: ${how} in ${minutes(ended.at - t0)} min (${minutes(Math.max(0, ended.at - waitFrom))} min of it waited for)\n`,
      );
      if (rc !== 0) {
        const tail = readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-30);
        process.stderr.write(`[test] ${name}: the last lines of ${logFile}:\n${tail.join('\n')}\n`);
      }
      return rc;
    },
  };
}
