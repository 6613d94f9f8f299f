/**
 * Every send is answered, `accepted` or an error, also when the gateway's RabbitMQ link
 * drops while sends wait for their `stored` (issue 18 §5). The gateway's queue is exclusive:
 * a `stored` an engine publishes while the link is down, or that sat unconsumed in the old
 * queue, is gone. A client that keeps its WebSocket open would then wait forever for its
 * `accepted` (the SDK resends on a new connection or after a retryable error, not on a
 * timer). So when the link is back, the gateway answers every send still waiting with
 * `unavailable`, which tells the client to send it again (same id: the engine stores one
 * copy and answers the resend).
 *
 * The broker is the test environment's: only this gateway's own AMQP connection is closed
 * (`rabbitmqctl close_connection`, found by the gateway's local port), three times, while
 * a client sends a steady stream. Nothing asserts on time: the test waits (generously)
 * until every send has its answer.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Stack, eventually, metric, type GatewayService, type Service } from './support/stack.js';
import { rabbitmqctl } from './support/rabbitmqctl.js';
import { WsClient } from './support/wsclient.js';

/** The local ports of the TCP connections process `pid` has open to `remotePort`. */
function localPortsTo(pid: number, remotePort: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const table of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !inodes.has(f[9]!)) continue;
      const local = parseInt(f[1]!.split(':')[1]!, 16);
      const remote = parseInt(f[2]!.split(':')[1]!, 16);
      if (remote === remotePort) ports.push(local);
    }
  }
  return ports;
}

describe('gateway RabbitMQ link drops while sends wait for stored', () => {
  const stack = new Stack('relink');
  let gw: GatewayService;
  let engine: Service;

  before(async () => {
    engine = await stack.startEngine();
    // The stream is faster than a client's default frame rate.
    gw = await stack.startGateway({ GATEWAY_RATE_PER_SECOND: '2000', GATEWAY_RATE_BURST: '2000' });
    await stack.createUsers('alice', 'bob');
    await stack.makeContacts('alice', 'bob');
  });
  after(() => stack.close());

  /** Closes the gateway's AMQP connection(s) from the broker's side; how many it closed. */
  const dropGatewayLink = async (): Promise<number> => {
    const amqpPort = Number(new URL(stack.env.amqpUrl).port);
    const ports = new Set(localPortsTo(gw.proc.pid, amqpPort));
    const list = await rabbitmqctl(stack, 'list_connections', '-q', 'pid', 'peer_port');
    let closed = 0;
    for (const line of list.split('\n')) {
      const [pid, peerPort] = line.trim().split(/\s+/);
      if (!pid || !ports.has(Number(peerPort))) continue;
      await rabbitmqctl(stack, 'close_connection', pid, 'test: gateway link dropped');
      closed += 1;
    }
    return closed;
  };

  it('answers every send, accepted or an error, across three link drops', async () => {
    const alice = await WsClient.connect(gw.wsUrl, await stack.token('alice'));
    await alice.waitFor((f) => f.type === 'hello');
    const ids: string[] = [];
    let sending = true;
    const stream = (async () => {
      while (sending) {
        ids.push(alice.sendMessage('bob', 'Y2lwaGVydGV4dA'));
        await sleep(10);
      }
    })();
    let drops = 0;
    for (let i = 0; i < 3; i++) {
      await sleep(700);
      drops += await dropGatewayLink();
      await eventually(
        async () => localPortsTo(gw.proc.pid, Number(new URL(stack.env.amqpUrl).port)).length > 0,
        'the gateway to reconnect to RabbitMQ',
        60_000,
      );
    }
    await sleep(700);
    sending = false;
    await stream;
    assert.equal(drops, 3, 'each drop closed the gateway connection');
    const answered = (): { missing: string[]; accepted: number; errors: number } => {
      const accepted = new Set<string>();
      const errored = new Set<string>();
      for (const f of alice.frames) {
        if (f.type === 'accepted') accepted.add(f.id);
        if (f.type === 'error' && f.ref) errored.add(f.ref);
      }
      return {
        missing: ids.filter((id) => !accepted.has(id) && !errored.has(id)),
        accepted: accepted.size,
        errors: errored.size,
      };
    };
    await eventually(
      () => Promise.resolve(answered().missing.length === 0),
      'every send to be answered',
      120_000,
    ).catch(() => undefined);
    const a = answered();
    const stored = await stack.db.collection('messages').countDocuments({});
    console.log('relink:', {
      sent: ids.length,
      accepted: a.accepted,
      errors: a.errors,
      stored,
      engineSends: await metric(engine.metricsUrl, 'gossip_engine_bus_messages_total', 'op="send"'),
      gatewaySends: await metric(
        gw.metricsUrl,
        'gossip_gateway_frames_received_total',
        'type="send"',
      ),
      gatewayAccepted: await metric(gw.metricsUrl, 'gossip_gateway_messages_accepted_total'),
    });
    assert.deepEqual(a.missing, [], `${a.missing.length} of ${ids.length} sends never answered`);
    assert.match(stack.logs(), /amqp link down; reconnecting/);
    await alice.close();
  });
});
