/**
 * The ceilings (issue 18 §1): what the store and the broker alone can do on this machine,
 * measured in the same run as the end-to-end throughput cases, and each end-to-end
 * result as a ratio to the ceiling that limits it.
 *
 * Per message the product does, in the store, one insert (group committed: `insertMany`)
 * and one `deleteOne({_id})` (the ack), and in the broker five confirmed publishes: two to
 * quorum queues (the send and the ack, to the engines) and three to classic gateway queues
 * (`stored`, `deliver`, the receipt). So the store's ceiling in messages per second is the
 * insert-then-delete rate of the case shaped like the engine (`insertMany` of 32, one
 * `deleteOne` each, 16 at a time, small collection), the broker's is
 * 1 / (2 / quorum + 3 / classic) at 64 unconfirmed publishes, and the CPU's is the cores'
 * 1,000 ms per second over the run's own CPU-ms per message, all processes counted.
 *
 * Sizes: `BENCH_CEILING_DOCUMENTS` per store case (default 1,000), `BENCH_CEILING_LARGE`
 * other documents in the large collection (default 20,000), and the throughput cases'
 * `BENCH_THROUGHPUT_MESSAGES`.
 */
import { cpus } from 'node:os';
import { brokerCeilings, type BrokerCase, type BrokerResult } from '../ceilings/broker.js';
import { storeCeilings, type StoreCase, type StoreResult } from '../ceilings/store.js';
import { round, table } from '../report.js';
import type { Scenario } from '../scenario.js';
import {
  caseName,
  runThroughputCases,
  throughputCases,
  throughputMarkdown,
  type ThroughputResult,
} from './throughput.js';

const STORE_CASES: StoreCase[] = [
  { concurrency: 1, insertBatch: 1, deleteMode: 'one' },
  { concurrency: 4, insertBatch: 1, deleteMode: 'one' },
  { concurrency: 16, insertBatch: 1, deleteMode: 'one' },
  { concurrency: 64, insertBatch: 1, deleteMode: 'one' },
  { concurrency: 1, insertBatch: 32, deleteMode: 'one' },
  { concurrency: 16, insertBatch: 32, deleteMode: 'one' },
  { concurrency: 1, insertBatch: 32, deleteMode: 'in' },
  { concurrency: 16, insertBatch: 32, deleteMode: 'in' },
];
/** The store case shaped like the engine's work per message. */
const ENGINE_LIKE: StoreCase = { concurrency: 16, insertBatch: 32, deleteMode: 'one' };

const BROKER_CASES: BrokerCase[] = (['quorum', 'classic'] as const).flatMap((queue) =>
  [1, 64, 512].map((window) => ({ queue, window })),
);
const BROKER_WINDOW = 64;

interface Ceiling {
  name: 'store' | 'broker' | 'cpu';
  messagesPerSecond: number;
}

/** Messages per second each resource allows, from the ceilings and the run's own CPU. */
function ceilingsFor(
  store: readonly StoreResult[],
  broker: readonly BrokerResult[],
  r: ThroughputResult,
): Ceiling[] {
  const s = store.find(
    (x) =>
      x.collection === 'small' &&
      x.concurrency === ENGINE_LIKE.concurrency &&
      x.insertBatch === ENGINE_LIKE.insertBatch &&
      x.deleteMode === ENGINE_LIKE.deleteMode,
  );
  const rate = (q: BrokerCase['queue']): number =>
    broker.find((b) => b.queue === q && b.window === BROKER_WINDOW)?.confirmedPerSecond ?? NaN;
  const total = r.cpuMsPerMessage.total ?? NaN;
  return [
    { name: 'store', messagesPerSecond: s?.cyclesPerSecond ?? NaN },
    {
      name: 'broker',
      messagesPerSecond: Math.round(1 / (2 / rate('quorum') + 3 / rate('classic'))),
    },
    { name: 'cpu', messagesPerSecond: Math.round((cpus().length * 1000) / total) },
  ];
}

export const ceilings: Scenario = {
  name: 'ceilings',
  title: 'Ceilings: the store and the broker alone, and end to end against them',
  async run(ctx) {
    ctx.say('  store ceilings (mongodb driver)');
    const store = await storeCeilings(ctx.servers.mongoUrl, STORE_CASES, {
      documents: Number(process.env.BENCH_CEILING_DOCUMENTS ?? (ctx.quick ? 200 : 1000)),
      largeSize: Number(process.env.BENCH_CEILING_LARGE ?? (ctx.quick ? 2000 : 20_000)),
      say: ctx.say,
    });
    ctx.say('  broker ceilings (amqplib, publisher confirms)');
    const broker = await brokerCeilings(ctx.servers.amqpUrl, BROKER_CASES, {
      seconds: ctx.quick ? 1 : 3,
      say: ctx.say,
    });
    ctx.say('  end to end');
    const e2e = await runThroughputCases(ctx, throughputCases(ctx.quick));
    const against = e2e.map((r) => {
      const cs = ceilingsFor(store, broker, r);
      const limit = cs.reduce((a, b) => (b.messagesPerSecond < a.messagesPerSecond ? b : a));
      const achieved = r.perSecond.ackedAndDeleted;
      return {
        case: caseName(r.case),
        ackedAndDeletedPerSecond: achieved,
        ceilings: cs,
        limitedBy: limit.name,
        ratio: achieved === null ? null : round(achieved / limit.messagesPerSecond),
      };
    });
    const ceil = (cs: Ceiling[], n: Ceiling['name']): number =>
      cs.find((c) => c.name === n)!.messagesPerSecond;
    const markdown = [
      'Store alone (message-shaped documents, 256-byte body; documents per second):',
      '',
      table(
        [
          'collection',
          'concurrency',
          'insert batch',
          'delete',
          'inserted/s',
          'deleted/s',
          'inserted+deleted/s',
        ],
        store.map((s) => [
          s.collection,
          s.concurrency,
          s.insertBatch,
          s.deleteMode === 'one' ? 'deleteOne each' : 'deleteMany $in per batch',
          s.insertedPerSecond,
          s.deletedPerSecond,
          s.cyclesPerSecond,
        ]),
      ),
      '',
      'Broker alone (512-byte messages, publisher confirms, a consumer acking each):',
      '',
      table(
        ['queue', 'unconfirmed at most', 'confirmed publishes/s', 'consumed/s'],
        broker.map((b) => [b.queue, b.window, b.confirmedPerSecond, b.consumedPerSecond]),
      ),
      '',
      'End to end (the throughput cases):',
      '',
      throughputMarkdown(e2e),
      '',
      'End to end against the ceilings (messages per second each resource allows; the ' +
        'ratio is to the lowest):',
      '',
      table(
        ['case', 'acked+deleted/s', 'store', 'broker', 'cpu', 'limited by', 'ratio'],
        against.map((a) => [
          a.case,
          a.ackedAndDeletedPerSecond ?? 'not all deleted',
          ceil(a.ceilings, 'store'),
          ceil(a.ceilings, 'broker'),
          ceil(a.ceilings, 'cpu'),
          a.limitedBy,
          a.ratio ?? '',
        ]),
      ),
    ].join('\n');
    return { data: { store, broker, endToEnd: e2e, against }, markdown };
  },
};
