/**
 * AmqpLink against the test env's real RabbitMQ: every publish promise settles when the link
 * drops with publishes unconfirmed, and the frames of one tick go to the socket in a few
 * writes, not one per publish.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import type { ConfirmChannel } from 'amqplib';
import { testEnv, uniqueName } from '@gossip/testenv';
import { AmqpLink } from '../src/amqp.js';
import { createLogger } from '../src/logger.js';

const quiet = createLogger({
  name: 'test',
  destination: new Writable({ write: (_c, _e, cb) => cb() }),
});

/** amqplib's internals these tests reach into: the socket, and the confirm window. */
interface Internals {
  connection: { stream: Socket };
  unconfirmed: unknown[];
}
const internals = (ch: ConfirmChannel): Internals => ch as unknown as Internals;

/** A link whose setup declares one quorum queue; `states` records onState calls. */
function link(queue: string, states: boolean[]): AmqpLink {
  return new AmqpLink({
    url: testEnv().amqpUrl,
    logger: quiet,
    setup: async (ch) => {
      await ch.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    },
    onState: (up) => states.push(up),
  });
}

/** Resolves when `states` has recorded `n` calls. */
async function stateCount(states: boolean[], n: number): Promise<void> {
  while (states.length < n) await new Promise((r) => setTimeout(r, 20));
}

test('every publish settles when the connection drops with publishes unconfirmed', async () => {
  const queue = uniqueName('h18c-settle');
  const states: boolean[] = [];
  const l = link(queue, states);
  await l.start();
  const ch = l.channel;
  assert.ok(ch);
  // Unroutable publishes are confirmed at once, those to the quorum queue after its log
  // commit: RabbitMQ confirms them out of order, which leaves confirmed (null) slots inside
  // amqplib's window of unconfirmed callbacks. amqplib 0.10.9's close handler stops failing
  // callbacks at the first such slot, so the publishes behind it never settled.
  let nullInWindow = false;
  ch.on('ack', () => {
    if (nullInWindow) return;
    const window = internals(ch).unconfirmed;
    const gap = window.indexOf(null);
    if (gap >= 0 && window.slice(gap).some((cb) => typeof cb === 'function')) {
      nullInWindow = true;
      // With an error, as a reset would: amqplib only notices a socket's 'error' or 'end'.
      internals(ch).connection.stream.destroy(new Error('test: the link is cut'));
    }
  });
  const burst = 2000;
  let settled = 0;
  let rejected = 0;
  for (let i = 0; i < burst; i++) {
    const to = i % 2 === 0 ? queue : `${queue}-nowhere`;
    l.publish('', to, { i }).then(
      () => settled++,
      () => {
        settled++;
        rejected++;
      },
    );
  }
  // Up, down, then up again on a fresh connection: by then the old channel's close has run.
  await stateCount(states, 3);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(states, [true, false, true]);
  assert.ok(nullInWindow, 'the burst never left a confirmed slot before unconfirmed ones');
  assert.equal(settled, burst, `${burst - settled} of ${burst} publish promises never settled`);
  // The ones still unconfirmed when the link dropped are failed, not left for a new channel.
  assert.ok(rejected > 0, 'no publish was rejected');
  await l.channel?.deleteQueue(queue);
  await l.stop();
});

test('the publishes of one tick go to the socket in a few writes', async (t) => {
  const queue = uniqueName('h18c-writes');
  const l = link(queue, []);
  await l.start();
  const ch = l.channel;
  assert.ok(ch);
  const socket = internals(ch).connection.stream;
  let writes = 0;
  let chunks = 0;
  const write = socket._write.bind(socket);
  const writev = socket._writev?.bind(socket);
  socket._write = (chunk, enc, cb) => {
    writes++;
    chunks++;
    write(chunk, enc, cb);
  };
  if (writev) {
    socket._writev = (list, cb) => {
      writes++;
      chunks += list.length;
      writev(list, cb);
    };
  }
  const burst = 200;
  const confirms: Promise<void>[] = [];
  for (let i = 0; i < burst; i++) confirms.push(l.publish('', queue, { i }));
  await Promise.all(confirms);
  t.diagnostic(`${burst} publishes: ${chunks} chunks in ${writes} socket writes`);
  assert.ok(chunks >= burst, `only ${chunks} chunks written for ${burst} publishes`);
  // One write per publish before; now a round of amqplib's writer is one writev, of as many
  // frames as fit under the socket's high-water mark.
  assert.ok(writes <= burst / 10, `${writes} socket writes for ${burst} publishes`);
  await ch.deleteQueue(queue);
  await l.stop();
});
