/**
 * What the broker alone can do on this machine: confirmed publishes per second through
 * amqplib to a queue of each kind the product uses (a durable quorum queue with
 * persistent messages, as the engines' queues; an exclusive, non-durable classic queue, as
 * each gateway's), with a consumer acking each message manually at the same time, at
 * several numbers of publishes awaiting their confirm. The queues are this run's own and
 * are deleted at the end.
 */
import { randomBytes } from 'node:crypto';
import amqp, { type ConfirmChannel } from 'amqplib';
import { round } from '../report.js';

export interface BrokerCase {
  queue: 'quorum' | 'classic';
  /** Publishes awaiting their confirm at most (1: one at a time). */
  window: number;
}

export interface BrokerResult extends BrokerCase {
  published: number;
  confirmedPerSecond: number;
  consumedPerSecond: number;
}

/** Publishes for `seconds` keeping `window` unconfirmed; resolves with how many were confirmed. */
function publishFor(
  ch: ConfirmChannel,
  queue: string,
  window: number,
  seconds: number,
  body: Buffer,
  persistent: boolean,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const end = performance.now() + seconds * 1000;
    let outstanding = 0;
    let confirmed = 0;
    let failed: unknown;
    const more = (): void => {
      while (outstanding < window && performance.now() < end && failed === undefined) {
        outstanding++;
        ch.sendToQueue(queue, body, { persistent }, (err) => {
          outstanding--;
          if (err) failed ??= err;
          else confirmed++; // counted when its confirm came, not before
          if (failed !== undefined && outstanding === 0) reject(failed as Error);
          else if (outstanding === 0 && performance.now() >= end) resolve(confirmed);
          else more();
        });
      }
    };
    more();
  });
}

async function measure(url: string, c: BrokerCase, seconds: number): Promise<BrokerResult> {
  const conn = await amqp.connect(url);
  try {
    const pub = await conn.createConfirmChannel();
    const sub = await conn.createChannel();
    const name = `bench-ceiling-${c.queue}-${randomBytes(4).toString('hex')}`;
    if (c.queue === 'quorum') {
      await sub.assertQueue(name, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    } else {
      await sub.assertQueue(name, { exclusive: true, durable: false, autoDelete: true });
    }
    try {
      await sub.prefetch(256);
      let consumed = 0;
      let lastConsumed = performance.now();
      await sub.consume(name, (m) => {
        if (!m) return;
        sub.ack(m);
        consumed++;
        lastConsumed = performance.now();
      });
      const body = randomBytes(512);
      const t0 = performance.now();
      const published = await publishFor(pub, name, c.window, seconds, body, c.queue === 'quorum');
      const pubSeconds = (performance.now() - t0) / 1000;
      // The consumer catches up (or gives up after 30 s: then its rate says so).
      const deadline = performance.now() + 30_000;
      while (consumed < published && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 10));
      }
      return {
        ...c,
        published,
        confirmedPerSecond: Math.round(published / pubSeconds),
        consumedPerSecond: Math.round(consumed / ((lastConsumed - t0) / 1000)),
      };
    } finally {
      await sub.deleteQueue(name).catch(() => undefined);
    }
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/** Each case for `seconds`, in turn. */
export async function brokerCeilings(
  amqpUrl: string,
  cases: readonly BrokerCase[],
  o: { seconds: number; say(line: string): void },
): Promise<BrokerResult[]> {
  const out: BrokerResult[] = [];
  for (const c of cases) {
    const r = await measure(amqpUrl, c, o.seconds);
    o.say(`  broker ${JSON.stringify(r)} over ${round(o.seconds)} s`);
    out.push(r);
  }
  return out;
}
