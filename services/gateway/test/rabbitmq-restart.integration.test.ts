/**
 * A RabbitMQ restart mid-stream loses no accepted message. The test environment's broker
 * is restarted in place with `rabbitmqctl stop_app` / `start_app` (the Erlang VM, and so
 * the pid the environment recorded, stays; every client connection is dropped, exclusive
 * queues vanish, durable queues and persistent messages survive: what clients see of a
 * broker restart). The node name, epmd port and cookie come from the running broker.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Stack } from './support/stack.js';
import { streamWithFault } from './support/stream.js';
import { rabbitmqctl } from './support/rabbitmqctl.js';

describe('RabbitMQ restart', () => {
  const stack = new Stack('f-rabbit');
  after(() => stack.close());

  it('restarting the broker mid-stream loses no accepted message', async () => {
    await stack.createUsers('alice', 'bob');
    await stack.makeContacts('alice', 'bob');
    await stack.startEngine({ ENGINE_REDELIVERY_SECONDS: '3', ENGINE_SCAN_INTERVAL_MS: '250' });
    const fast = { GATEWAY_RATE_PER_SECOND: '2000', GATEWAY_RATE_BURST: '2000' };
    const gwA = await stack.startGateway(fast);
    const gwB = await stack.startGateway(fast);
    const r = await streamWithFault({
      stack,
      senderUrls: () => [gwA.wsUrl],
      recipientUrls: () => [gwB.wsUrl],
      count: 200,
      intervalMs: 15,
      fault: async () => {
        await rabbitmqctl(stack, 'stop_app');
        await new Promise((res) => setTimeout(res, 1000));
        await rabbitmqctl(stack, 'start_app');
      },
      settleMs: 90_000,
    });
    assert.equal(r.shown, 200);
    console.log('rabbitmq restart:', r);
    assert.match(stack.logs(), /amqp link down; reconnecting/);
  });
});
