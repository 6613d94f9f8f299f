/**
 * AmqpLink's reconnect pacing against a port nothing listens on (a real refused TCP
 * connect, no broker needed): each retry waits between half and all of a delay doubling
 * from minBackoffMs up to maxBackoffMs (@gossip/limits' equal-jitter backoff).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { AmqpLink } from '../src/amqp.js';
import { createLogger } from '../src/logger.js';

/** A loopback port that refuses connections: bound once, then closed. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  const { port } = s.address() as { port: number };
  await new Promise((ok) => s.close(ok));
  return port;
}

test('connect retries back off with equal jitter, doubling to the cap', async () => {
  const waits: number[] = [];
  const logger = createLogger({
    name: 'test',
    destination: new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          const entry = JSON.parse(line) as { msg?: string; retryInMs?: number };
          if (entry.msg === 'amqp connect failed' && entry.retryInMs !== undefined) {
            waits.push(entry.retryInMs);
            if (waits.length === 5) void link.stop();
          }
        }
        cb();
      },
    }),
  });
  const link: AmqpLink = new AmqpLink({
    url: `amqp://127.0.0.1:${await closedPort()}`,
    logger,
    setup: async () => undefined,
    minBackoffMs: 20,
    maxBackoffMs: 80,
  });
  await link.start();
  assert.equal(waits.length, 5, waits.join(', '));
  const caps = [20, 40, 80, 80, 80];
  waits.forEach((w, i) => {
    assert.ok(
      w >= caps[i]! / 2 && w <= caps[i]!,
      `retry ${i}: ${w} ms, wanted ${caps[i]! / 2}..${caps[i]}`,
    );
  });
});
