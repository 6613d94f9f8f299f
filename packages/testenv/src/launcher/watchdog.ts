/**
 * Parent-death clean-up for what a launcher starts. Node has no prctl(PR_SET_PDEATHSIG),
 * and the backing servers run detached (their own process groups, so a kill -9 of one is a
 * real crash and the terminal's Ctrl-C does not reach them half-way), so nothing would stop
 * them if the launcher died without running its own stop: a kill -9, tsx's relay giving up
 * on it, a crash. The watchdog is a small process in a session of its own (the terminal's
 * signals do not reach it) that reads the pids to end from a pipe; the pipe closes when the
 * launcher exits, however it exits, and then the watchdog ends the services (SIGTERM, so
 * they drain) and after them the servers' groups, and exits itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'node:net';

const MAIN = fileURLToPath(new URL('./watchdog-main.ts', import.meta.url));

export class Watchdog {
  private constructor(private readonly child: ChildProcess) {}

  /** Starts the watchdog; it logs what it does to `logFile`. */
  static start(logFile: string): Watchdog {
    mkdirSync(dirname(logFile), { recursive: true });
    const fd = openSync(logFile, 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, String(process.pid)], {
      detached: true,
      stdio: ['pipe', fd, fd],
    });
    closeSync(fd);
    // Neither the watchdog nor its pipe keeps this process alive: exiting is what it waits for.
    child.unref();
    (child.stdin as Socket | null)?.unref();
    child.stdin?.on('error', () => undefined);
    return new Watchdog(child);
  }

  /** The watchdog's own pid. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Ends `pid` (the whole group it leads when `group`) if this process dies first. */
  watch(pid: number, group: boolean): void {
    this.child.stdin?.write(`${group ? 'group' : 'pid'} ${pid}\n`);
  }

  /** `pid` was ended here (it may be reused): the watchdog leaves it alone. */
  forget(pid: number): void {
    this.child.stdin?.write(`forget ${pid}\n`);
  }

  /**
   * Closes the pipe, as this process's exit would, and waits for the watchdog to end
   * whatever is still registered and exit (call it after the orderly stop).
   */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    // Unreferenced, the child would let this process exit before its 'exit' event came.
    this.child.ref();
    this.child.stdin?.end();
    await exited;
  }
}
