/** Ending processes and whole process groups, and waiting until they are really gone. */
import { setTimeout as sleep } from 'node:timers/promises';

/** A process to end: one pid, or (`group`) every process in the group it leads. */
export interface Doomed {
  pid: number;
  group: boolean;
}

function signal(d: Doomed, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(d.group ? -d.pid : d.pid, sig);
    return true;
  } catch {
    // ESRCH: nothing (left) to signal.
    return false;
  }
}

/** Whether any process of `d` is still there. */
export function alive(d: Doomed): boolean {
  return signal(d, 0);
}

async function gone(list: Doomed[], ms: number): Promise<Doomed[]> {
  const deadline = Date.now() + ms;
  let left = list.filter(alive);
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(100);
    left = left.filter(alive);
  }
  return left;
}

/**
 * SIGTERM to each, SIGKILL to what is left after `graceMs` (at once when 0), then waits
 * (up to 10 s more) until every one is gone, so a port it held is free when this returns.
 * Resolves with what could not be ended (empty normally).
 */
export async function terminate(list: Doomed[], graceMs: number): Promise<Doomed[]> {
  if (graceMs > 0) {
    for (const d of list) signal(d, 'SIGTERM');
    list = await gone(list, graceMs);
  }
  for (const d of list) signal(d, 'SIGKILL');
  return gone(list, 10_000);
}
