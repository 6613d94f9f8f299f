/**
 * The watchdog process (see watchdog.ts): reads `pid N`, `group N` and `forget N` lines
 * from stdin; at end of input (its launcher exited or closed the pipe) ends the pids, then
 * the groups, and exits.
 */
import { createInterface } from 'node:readline';
import { terminate, type Doomed } from './terminate.js';

const parent = process.argv[2] ?? '?';
const log = (line: string): void => {
  process.stdout.write(`${new Date().toISOString()} watchdog of ${parent}: ${line}\n`);
};
// A session of its own already keeps the terminal's signals away; a stray one must not
// end the watchdog before its job either.
for (const sig of ['SIGINT', 'SIGHUP'] as const) process.on(sig, () => log(`ignored ${sig}`));

const watched = new Map<number, Doomed>();
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [what, n] = line.trim().split(/\s+/);
  const pid = Number(n);
  if (!Number.isInteger(pid) || pid <= 1) return log(`ignored line ${JSON.stringify(line)}`);
  if (what === 'forget') watched.delete(pid);
  else if (what === 'pid' || what === 'group') watched.set(pid, { pid, group: what === 'group' });
  else log(`ignored line ${JSON.stringify(line)}`);
});
lines.on('close', () => {
  void (async () => {
    const all = [...watched.values()];
    if (all.length > 0) log(`launcher gone: ending ${all.map((d) => d.pid).join(', ')}`);
    // Services first (they drain and let go of the servers), then the servers' groups.
    const left = [
      ...(await terminate(
        all.filter((d) => !d.group),
        10_000,
      )),
      ...(await terminate(
        all.filter((d) => d.group),
        15_000,
      )),
    ];
    if (left.length > 0) log(`could not end ${left.map((d) => d.pid).join(', ')}`);
    process.exit(left.length > 0 ? 1 : 0);
  })();
});
