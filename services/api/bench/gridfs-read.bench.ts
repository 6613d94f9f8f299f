/**
 * How a GridFS part read scales with what the bucket holds, on the test environment's
 * store: `GridFSBucket.openDownloadStream` (chunks found by `{ files_id }`, sorted by `n`)
 * against reading the same chunks by `_id` (one `findOne({ _id })` each, one `$in`, and an
 * `_id` range that brackets the part's chunks). FerretDB 1.24's SQLite backend pushes down
 * only `_id` filters, so the first scans the whole chunks collection; MongoDB would use its
 * `files_id_1_n_1` index for it. Reports numbers; passes or fails nothing (say the load
 * next to any figure).
 *
 *   node --import tsx services/api/bench/gridfs-read.bench.ts [PARTS_STORED...]
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { GridFSBucket, MongoClient, ObjectId } from 'mongodb';

const PART_BYTES = 1 << 20;
const REPEAT = 3;

async function time(work: () => Promise<unknown>): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < REPEAT; i++) {
    const t0 = performance.now();
    await work();
    best = Math.min(best, performance.now() - t0);
  }
  return Math.round(best);
}

async function main(): Promise<void> {
  const url = process.env.GOSSIP_MONGO_URL;
  if (!url) throw new Error('GOSSIP_MONGO_URL is not set: run `npm run testenv -- env` first');
  const sizes = process.argv.slice(2).map(Number);
  const steps = sizes.length > 0 ? sizes : [1, 25, 100];
  const client = new MongoClient(url);
  const db = client.db(`gridfs_read_bench_${randomBytes(4).toString('hex')}`);
  try {
    const bucket = new GridFSBucket(db, { bucketName: 'b' });
    const chunks = db.collection<{ _id: ObjectId; files_id: ObjectId; n: number }>('b.chunks');
    const part = randomBytes(PART_BYTES);
    const probe: { id: ObjectId; before: ObjectId; after: ObjectId }[] = [];
    let stored = 0;
    console.log(
      'parts stored (1 MiB each) | openDownloadStream ms | findOne by _id ms | _id $in ms | _id range ms | load',
    );
    for (const target of steps) {
      for (; stored < target; stored++) {
        const id = new ObjectId();
        const before = new ObjectId();
        await new Promise<void>((ok, fail) => {
          bucket
            .openUploadStreamWithId(id, `p${stored}`)
            .on('error', fail)
            .on('finish', ok)
            .end(part);
        });
        probe.push({ id, before, after: new ObjectId() });
      }
      const first = probe[0]!;
      const ids = (
        await chunks
          .find({ files_id: first.id }, { projection: { _id: 1 } })
          .sort({ n: 1 })
          .toArray()
      ).map((c) => c._id);
      const viaBucket = await time(async () => {
        let n = 0;
        for await (const b of bucket.openDownloadStream(first.id)) n += (b as Buffer).length;
        if (n !== PART_BYTES) throw new Error(`read ${n} bytes`);
      });
      const viaFindOne = await time(async () => {
        for (const _id of ids)
          if (!(await chunks.findOne({ _id }))) throw new Error('chunk missing');
      });
      const viaIn = await time(async () => {
        const got = await chunks.find({ _id: { $in: ids } }).toArray();
        if (got.length !== ids.length) throw new Error('chunks missing');
      });
      const viaRange = await time(async () => {
        const got = await chunks
          .find({ _id: { $gt: first.before, $lt: first.after }, files_id: first.id })
          .toArray();
        if (got.length !== ids.length) throw new Error(`range found ${got.length} chunks`);
      });
      console.log(
        `${stored} | ${viaBucket} | ${viaFindOne} | ${viaIn} | ${viaRange} | ${loadavg()
          .map((l) => l.toFixed(1))
          .join(' / ')}`,
      );
    }
  } finally {
    await db.dropDatabase().catch(() => undefined);
    await client.close();
  }
}

await main();
