// One phase of a test run: a child command in its own process group, with a line when it
// starts and one with its minutes when it ends, killed (the whole group, so no test
// process is left behind) when it outlives its time limit. Used by test.mjs and
// test-cluster.mjs so a hanging step fails with a message instead of hanging CI.
import { spawn } from 'node:child_process';

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
