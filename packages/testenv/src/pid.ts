/** Whether a process id still names a running process on this machine. */
import { readFileSync } from 'node:fs';

/**
 * True while `pid` runs. A killed daemon stays a zombie until init reaps it, and init here
 * reaps late; kill(0) still succeeds on a zombie, so its state in /proc is read too.
 */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}
