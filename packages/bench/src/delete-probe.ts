/**
 * `npx tsx packages/bench/src/delete-probe.ts <mongodb-url> [backlog,...]`: what deleting
 * and reading acked messages by `_id` costs with a large stored backlog (issue 18 §2), on
 * the store at the given URL. For each backlog size (default 20,000 and 100,000
 * message-shaped documents that stay), it stores probe documents and times, on one
 * worker: `findOne({_id})` and `deleteOne({_id})` per document, `find({_id: {$in}})` and
 * `deleteMany({_id: {$in}})` in batches of 8, 32 and 128. Each probe stops at its
 * document count or after `BENCH_PROBE_SECONDS` (default 20), so a plan that scans the
 * collection still finishes. Prints one JSON line per probe and a markdown table, and
 * writes them to bench/results/delete-probe-<BENCH_PROBE_TAG>.json when that is set. A
 * measurement, not a test: it asserts only that what it deleted is gone.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { MongoClient, type Collection } from 'mongodb';
import { messageDoc, type StoreDoc } from './ceilings/store.js';
import { resultsDir, round } from './report.js';

interface Probe {
  backlog: number;
  op: 'findOne' | 'deleteOne' | 'find $in' | 'deleteMany $in';
  batch: number;
  documents: number;
  seconds: number;
  /** Documents read or deleted per second. */
  docsPerSecond: number;
  /** Mean time of one call (one round trip), ms. */
  msPerCall: number;
}

const say = (line: string): void => {
  process.stderr.write(`[probe] ${line}\n`);
};

/** Runs `call` on consecutive slices of `ids` of `batch` until done or `budget` s passed. */
async function timed(
  ids: readonly string[],
  batch: number,
  budget: number,
  call: (slice: string[]) => Promise<void>,
): Promise<{ documents: number; calls: number; seconds: number }> {
  const t0 = performance.now();
  let documents = 0;
  let calls = 0;
  for (let i = 0; i < ids.length; i += batch) {
    const slice = ids.slice(i, i + batch);
    await call(slice);
    documents += slice.length;
    calls++;
    if ((performance.now() - t0) / 1000 > budget) break;
  }
  return { documents, calls, seconds: (performance.now() - t0) / 1000 };
}

async function fill(coll: Collection<StoreDoc>, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 1000) {
    const docs = Array.from({ length: Math.min(1000, n - i) }, messageDoc);
    await coll.insertMany(docs, { ordered: false });
    for (const d of docs) ids.push(d._id);
  }
  return ids;
}

async function main(): Promise<void> {
  const url = process.argv[2];
  if (!url) throw new Error('usage: delete-probe.ts <mongodb-url> [backlog,...]');
  const backlogs = (process.argv[3] ?? '20000,100000').split(',').map(Number);
  const budget = Number(process.env.BENCH_PROBE_SECONDS ?? 20);
  const perProbe = Number(process.env.BENCH_PROBE_DOCUMENTS ?? 1024);
  const client = new MongoClient(url);
  const db = client.db(`bench_probe_${randomBytes(4).toString('hex')}`);
  const out: Probe[] = [];
  const load: number[][] = [loadavg().map(round)];
  try {
    const coll = db.collection<StoreDoc>('messages');
    let stored = 0;
    for (const backlog of backlogs) {
      const t0 = performance.now();
      await fill(coll, backlog - stored);
      stored = backlog;
      say(
        `backlog ${backlog} stored in ${round((performance.now() - t0) / 1000)} s, load ${loadavg().map(round).join(' ')}`,
      );
      const cases: [Probe['op'], number][] = [
        ['findOne', 1],
        ['find $in', 8],
        ['find $in', 32],
        ['find $in', 128],
        ['deleteOne', 1],
        ['deleteMany $in', 8],
        ['deleteMany $in', 32],
        ['deleteMany $in', 128],
      ];
      for (const [op, batch] of cases) {
        const ids = await fill(coll, perProbe);
        const r = await timed(ids, batch, budget, async (slice) => {
          if (op === 'findOne') {
            if (!(await coll.findOne({ _id: slice[0]! }))) throw new Error('probe: not found');
          } else if (op === 'find $in') {
            const got = await coll.find({ _id: { $in: slice } }).toArray();
            if (got.length !== slice.length) throw new Error('probe: $in read too few');
          } else if (op === 'deleteOne') {
            await coll.deleteOne({ _id: slice[0]! });
          } else {
            const { deletedCount } = await coll.deleteMany({ _id: { $in: slice } });
            if (deletedCount !== slice.length) throw new Error('probe: $in deleted too few');
          }
        });
        // What the probe did not get to, and the probe documents of the read cases, go
        // again so that the backlog stays at its size.
        await coll.deleteMany({ _id: { $in: ids } });
        const p: Probe = {
          backlog,
          op,
          batch,
          documents: r.documents,
          seconds: round(r.seconds),
          docsPerSecond: Math.round(r.documents / r.seconds),
          msPerCall: round((r.seconds * 1000) / r.calls),
        };
        say(JSON.stringify(p));
        out.push(p);
      }
      load.push(loadavg().map(round));
    }
  } finally {
    await db.dropDatabase().catch(() => undefined);
    await client.close();
  }
  const table = [
    '| backlog | op | batch | documents | docs/s | ms per call |',
    '| --- | --- | --- | --- | --- | --- |',
    ...out.map(
      (p) =>
        `| ${p.backlog} | ${p.op} | ${p.batch} | ${p.documents} | ${p.docsPerSecond} | ${p.msPerCall} |`,
    ),
  ].join('\n');
  process.stdout.write(
    `${table}\n\nload average (1/5/15 min) per phase: ${JSON.stringify(load)}\n`,
  );
  const tag = process.env.BENCH_PROBE_TAG;
  if (tag) {
    const file = join(resultsDir, `delete-probe-${tag}.json`);
    writeFileSync(
      file,
      `${JSON.stringify({ at: new Date().toISOString(), url, budget, perProbe, loadAverage: load, probes: out }, null, 2)}\n`,
    );
    say(`wrote ${file}`);
  }
}

main().catch((err: unknown) => {
  say(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
