/**
 * What the engines send this gateway, from its own RabbitMQ queue: `stored` (answer
 * `accepted`), `error` (for one connection) and `push` (a frame for a user's connections,
 * held back by those still in their first replay, or a frame of one connection's replay,
 * which `replayed` ends; a live push may also carry the `stored` of its message when the
 * sender is on this gateway too), and `pushes` (several live pushes in one message, taken
 * because this gateway's presence claims carry `PRESENCE_PUSHES_MARK`).
 */
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import {
  gatewayQueue,
  gatewayRoutingKey,
  parseGatewayMessage,
  type BusPushItem,
  type GatewayMessage,
} from '@gossip/protocol';
import type { Logger } from '@gossip/servicekit';
import type { Drains } from './drains.js';
import type { GatewayMetrics } from './metrics.js';
import type { ConnectionRegistry } from './registry.js';

/** Where this gateway's queue is and how much of it it takes at once. */
export interface BusConsumerOptions {
  exchange: string;
  amqpPrefix: string;
  instanceId: string;
  prefetch: number;
}

export class BusConsumer {
  constructor(
    private readonly opts: BusConsumerOptions,
    private readonly registry: ConnectionRegistry,
    private readonly drains: Drains,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
  ) {}

  /** Declares this gateway's queue and consumes it (the link's `setup`, run on every connect). */
  async setup(ch: ConfirmChannel): Promise<void> {
    const { exchange, amqpPrefix, instanceId, prefetch } = this.opts;
    const queue = gatewayQueue(amqpPrefix, instanceId);
    await ch.assertExchange(exchange, 'topic', { durable: true });
    // Exclusive: it belongs to this connection and vanishes with it (a dead gateway's
    // notifications are worthless; the engine replays from MongoDB on reconnect).
    await ch.assertQueue(queue, { exclusive: true, durable: false, autoDelete: true });
    await ch.bindQueue(queue, exchange, gatewayRoutingKey(instanceId));
    await ch.prefetch(prefetch);
    await ch.consume(queue, (msg) => this.onMessage(ch, msg), { noAck: false });
  }

  private onMessage(ch: ConfirmChannel, msg: ConsumeMessage | null): void {
    if (!msg) return;
    // Validated against the protocol's schemas before any field is read: what does not
    // match is counted and dropped (acked below), and never reaches a client.
    const parsed = parseGatewayMessage(msg.content);
    if (!parsed.ok) {
      this.metrics.busInvalid.inc({ reason: parsed.reason });
      this.log.warn(
        { reason: parsed.reason, detail: parsed.detail },
        'invalid bus message dropped',
      );
    } else {
      this.metrics.busMessages.inc({ op: parsed.message.op });
      try {
        this.dispatch(parsed.message);
      } catch (err) {
        this.log.error({ err, op: parsed.message.op }, 'bus message handler failed');
      }
    }
    try {
      ch.ack(msg);
    } catch {
      // channel gone: the message is a notification and is redelivered from MongoDB
    }
  }

  /** Message `id` sent on connection `conn` is stored: answers `accepted` there. */
  private accepted(connId: string, id: string): void {
    const conn = this.registry.get(connId);
    if (!conn) return;
    const t0 = conn.pending?.get(id);
    conn.pending?.delete(id);
    if (t0 !== undefined) this.metrics.acceptLatency.observe((performance.now() - t0) / 1000);
    if (conn.push({ type: 'accepted', id })) this.metrics.accepted.inc();
  }

  private dispatch(m: GatewayMessage): void {
    switch (m.op) {
      case 'stored':
        return this.accepted(m.conn, m.id);
      case 'error': {
        const conn = this.registry.get(m.conn);
        if (!conn) return;
        if (m.ref) conn.pending?.delete(m.ref);
        conn.pushError(m.code, m.message, m.ref);
        return;
      }
      case 'push': {
        const { frame } = m;
        // The sender is on this gateway too: its `accepted` came in the same message.
        if (m.stored) this.accepted(m.stored.conn, m.stored.id);
        if (m.conn !== undefined) {
          // One connection's replay: written at once, never held; `replayed` ends it.
          const conn = this.registry.get(m.conn);
          if (conn?.user !== m.to) return;
          this.drains.progress(conn);
          if (frame.type === 'replayed') return this.drains.replayed(conn);
          conn.deliverReplayed(frame, frame.type === 'deliver');
          return;
        }
        // `replayed` is for one connection; one without it is not a valid live push.
        if (frame.type === 'replayed') return;
        return this.live(m.to, frame, m.live === true);
      }
      case 'pushes':
        // Each as its own live push, in order: one WebSocket message per frame.
        for (const p of m.pushes) this.live(p.to, p.frame, false);
        return;
    }
  }

  /** A live push: `frame` to every connection of `to` here (held by those still replaying). */
  private live(to: string, frame: BusPushItem['frame'], live: boolean): void {
    for (const conn of this.registry.connsOf(to)) {
      // Receipts and signals are small; messages are the bulk and are redelivered.
      conn.deliver({ frame, live, droppable: frame.type === 'deliver' });
    }
  }
}
