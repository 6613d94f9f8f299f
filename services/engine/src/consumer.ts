/**
 * The engine queue's consumer: competing consumers with manual acks. Each bus message is
 * validated, handed to its handler, and acked only after the handler's MongoDB work and
 * publishes are done (a crash redelivers it); a failing one is requeued with backoff and
 * dropped after `maxRedeliveries`.
 */
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import {
  engineQueue,
  ENGINE_ROUTING_KEY,
  parseEngineMessage,
  type EngineMessage,
} from '@gossip/protocol';
import { backoffDelay } from '@gossip/limits';
import type { Logger } from '@gossip/servicekit';
import type { EngineConfig } from './config.js';
import type { EngineMetrics } from './metrics.js';

/** Handles one valid bus message; resolves when it may be acked. */
export type BusHandler = (m: EngineMessage) => Promise<void>;

export interface ConsumerDeps {
  cfg: Pick<EngineConfig, 'amqpPrefix' | 'queueType' | 'prefetch' | 'maxRedeliveries'>;
  /** The delivery exchange the engine queue is bound to. */
  exchange: string;
  handle: BusHandler;
  metrics: EngineMetrics;
  log: Logger;
}

/** A bus message in hand longer than this is logged at warn (once), with its op. */
export const INFLIGHT_WARN_MS = 60_000;

/** A bus message handed to its handler: since when, and whether it was warned about. */
interface InHand {
  op: string;
  since: number;
  warned: boolean;
}

/** The wait before a failed message is requeued: 250 ms doubling per delivery, at most 5 s. */
const REQUEUE_BACKOFF = { initialMs: 250, maxMs: 5000 } as const;

/** Acks or nacks, ignoring a channel that is gone (RabbitMQ redelivers then anyway). */
function settle(ch: ConfirmChannel, msg: ConsumeMessage, ack: boolean): void {
  try {
    if (ack) ch.ack(msg);
    else ch.nack(msg, false, true);
  } catch {
    // channel gone: redelivered, and every handler is idempotent
  }
}

export class BusConsumer {
  private consumerTag: string | undefined;
  private channel: ConfirmChannel | undefined;
  private stopping = false;
  private readonly inflight = new Map<Promise<void>, InHand>();

  constructor(private readonly d: ConsumerDeps) {}

  /** The AmqpLink's setup: declares the topology and consumes (again after each reconnect). */
  async setup(ch: ConfirmChannel): Promise<void> {
    const { cfg } = this.d;
    const queue = engineQueue(cfg.amqpPrefix);
    await ch.assertExchange(this.d.exchange, 'topic', { durable: true });
    await ch.assertQueue(queue, {
      durable: true,
      arguments: { 'x-queue-type': cfg.queueType },
    });
    await ch.bindQueue(queue, this.d.exchange, ENGINE_ROUTING_KEY);
    await ch.prefetch(cfg.prefetch);
    if (this.stopping) return;
    const { consumerTag } = await ch.consume(queue, (msg) => this.onMessage(ch, msg), {
      noAck: false,
    });
    this.channel = ch;
    this.consumerTag = consumerTag;
  }

  /** Stops taking messages and waits for the ones in hand to be settled. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.channel && this.consumerTag) {
      await this.channel.cancel(this.consumerTag).catch(() => undefined);
    }
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight.keys()]);
  }

  /**
   * Run on a timer: sets the oldest in-hand age and warns (once each) about messages in
   * hand for over {@link INFLIGHT_WARN_MS}: a handler that never settles holds a prefetch
   * slot (and its sender's later sends wait in their chain) with nothing else to show it.
   */
  watch(now = Date.now()): void {
    let oldest = now;
    for (const h of this.inflight.values()) {
      oldest = Math.min(oldest, h.since);
      if (!h.warned && now - h.since > INFLIGHT_WARN_MS) {
        h.warned = true;
        this.d.log.warn({ op: h.op, ms: now - h.since }, 'bus message in hand for long');
      }
    }
    this.d.metrics.oldestInflightAge.set((now - oldest) / 1000);
  }

  private onMessage(ch: ConfirmChannel, msg: ConsumeMessage | null): void {
    if (!msg) return;
    const { metrics, log } = this.d;
    // Validated against the protocol's schemas before anything reads a field: a message
    // no handler can take (an unknown op, a missing field) would otherwise throw inside
    // amqplib's dispatch, lose the channel and come back on the next one, forever.
    const parsed = parseEngineMessage(msg.content);
    if (!parsed.ok) {
      metrics.busInvalid.inc({ reason: parsed.reason });
      log.warn(
        { deliveryTag: msg.fields.deliveryTag, reason: parsed.reason, detail: parsed.detail },
        'invalid bus message dropped',
      );
      settle(ch, msg, true); // channel gone: it is redelivered and dropped again
      return;
    }
    const m = parsed.message;
    metrics.busMessages.inc({ op: m.op });
    const work = this.d.handle(m).then(
      () => settle(ch, msg, true),
      async (err: unknown) => {
        metrics.errors.inc({ code: 'internal' });
        // Quorum queues count redeliveries. Back off (MongoDB may be down), and give up on a
        // message that keeps failing so it cannot hold a prefetch slot forever: a dropped
        // send was never accepted (the client resends), a dropped ack leaves the message to
        // be redelivered and acked again, a dropped connect leaves parked messages for the
        // next connect (and its connection without `replayed`).
        const count = Number(msg.properties.headers?.['x-delivery-count'] ?? 0);
        if (count >= this.d.cfg.maxRedeliveries) {
          log.error({ err, op: m.op, count }, 'handler keeps failing; message dropped');
          settle(ch, msg, true);
          return;
        }
        log.warn({ err, op: m.op, count }, 'handler failed; requeueing');
        await new Promise((r) => setTimeout(r, backoffDelay(count, REQUEUE_BACKOFF)));
        settle(ch, msg, false);
      },
    );
    this.inflight.set(work, { op: m.op, since: Date.now(), warned: false });
    metrics.inflight.inc();
    void work.finally(() => {
      this.inflight.delete(work);
      metrics.inflight.dec();
    });
  }
}
