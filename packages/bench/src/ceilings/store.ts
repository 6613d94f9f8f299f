/**
 * What the store alone can do on this machine: inserts and deletes of message-shaped
 * documents through the plain `mongodb` driver, at several concurrencies and batch
 * sizes, on a small collection (only the documents of the case) and on a large one
 * (`largeSize` other documents present, as a stored backlog). Runs in a database of its
 * own on the given server, dropped at the end.
 */
import { randomBytes } from 'node:crypto';
import { MongoClient, type Collection } from 'mongodb';
import { newMessageId } from '@gossip/protocol';
import { round } from '../report.js';
import { runJobs } from './workers.js';

export interface StoreCase {
  /** Workers inserting, then deleting, at the same time. */
  concurrency: number;
  /** Documents per insert: 1 is `insertOne`, more is `insertMany` (the engine's group commit). */
  insertBatch: number;
  /** `one`: a `deleteOne({_id})` per document (the engine's acks); `in`: `deleteMany({_id: {$in}})` per batch. */
  deleteMode: 'one' | 'in';
}

export interface StoreResult extends StoreCase {
  collection: 'small' | 'large';
  documents: number;
  insertedPerSecond: number;
  deletedPerSecond: number;
  /** Documents inserted and deleted per second over both phases: a message's store work. */
  cyclesPerSecond: number;
}

/** A stored message's shape, as far as the store's work goes. */
export interface StoreDoc {
  _id: string;
  to: string;
  from: string;
  kind: string;
  body: string;
  sentAt: Date;
}

/** A document shaped as the engine stores a message with a 256-byte body. */
export function messageDoc(): StoreDoc {
  return {
    _id: newMessageId(),
    to: 'bench-recipient',
    from: 'bench-sender',
    kind: 'message',
    body: randomBytes(256).toString('base64'),
    sentAt: new Date(),
  };
}

async function measure(
  coll: Collection<StoreDoc>,
  c: StoreCase,
  documents: number,
): Promise<Omit<StoreResult, 'collection'>> {
  const docs = Array.from({ length: documents }, messageDoc);
  const batches: StoreDoc[][] = [];
  for (let i = 0; i < docs.length; i += c.insertBatch)
    batches.push(docs.slice(i, i + c.insertBatch));
  const ins = await runJobs(batches.length, c.concurrency, async (i) => {
    const b = batches[i]!;
    if (b.length === 1) await coll.insertOne(b[0]!);
    else await coll.insertMany(b, { ordered: false });
  });
  const del =
    c.deleteMode === 'one'
      ? await runJobs(docs.length, c.concurrency, async (i) => {
          await coll.deleteOne({ _id: docs[i]!._id });
        })
      : await runJobs(batches.length, c.concurrency, async (i) => {
          await coll.deleteMany({ _id: { $in: batches[i]!.map((d) => d._id) } });
        });
  const left = await coll.countDocuments({ _id: { $in: docs.map((d) => d._id) } });
  if (left !== 0) throw new Error(`store ceiling: ${left} documents not deleted`);
  return {
    ...c,
    documents,
    insertedPerSecond: Math.round(documents / ins.seconds),
    deletedPerSecond: Math.round(documents / del.seconds),
    cyclesPerSecond: Math.round(documents / (ins.seconds + del.seconds)),
  };
}

/** Every case on the small collection, then again with `largeSize` other documents present. */
export async function storeCeilings(
  mongoUrl: string,
  cases: readonly StoreCase[],
  o: { documents: number; largeSize: number; say(line: string): void },
): Promise<StoreResult[]> {
  const client = new MongoClient(mongoUrl);
  const db = client.db(`bench_ceilings_${randomBytes(4).toString('hex')}`);
  const out: StoreResult[] = [];
  try {
    const coll = db.collection<StoreDoc>('messages');
    for (const collection of ['small', 'large'] as const) {
      if (collection === 'large') {
        const t0 = performance.now();
        for (let i = 0; i < o.largeSize; i += 1000) {
          const n = Math.min(1000, o.largeSize - i);
          await coll.insertMany(Array.from({ length: n }, messageDoc), { ordered: false });
        }
        o.say(
          `  store: ${o.largeSize} other documents stored in ${round((performance.now() - t0) / 1000)} s`,
        );
      }
      for (const c of cases) {
        const r = { collection, ...(await measure(coll, c, o.documents)) };
        o.say(`  store ${JSON.stringify(r)}`);
        out.push(r);
      }
    }
  } finally {
    await db.dropDatabase().catch(() => undefined);
    await client.close();
  }
  return out;
}
