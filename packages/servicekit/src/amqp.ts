/**
 * A RabbitMQ connection that heals itself: one confirm channel, re-created with backoff
 * after the broker restarts or the connection drops, re-running `setup` (declare the
 * topology, start consumers) each time. Publishes wait for the broker's confirm, and every
 * publish settles: when the channel or connection closes, each one still unconfirmed
 * rejects (amqplib 0.10.9 alone leaves some pending forever, see `lost`).
 * The frames written in one round of amqplib's writer go to the socket in one write
 * (see amqp-writes.ts).
 */
import { Backoff } from '@gossip/limits';
import amqp from 'amqplib';
import type { ChannelModel, ConfirmChannel, Options } from 'amqplib';
import { coalesceWrites } from './amqp-writes.js';
import type { Logger } from './logger.js';

export interface AmqpLinkOptions {
  url: string;
  logger: Logger;
  /** Declares queues and starts consumers on a fresh channel. */
  setup: (ch: ConfirmChannel) => Promise<void>;
  /** Called when the link goes down or comes back up. */
  onState?: (up: boolean) => void;
  /** @default 200 */
  minBackoffMs?: number;
  /**
   * Retries wait between half and all of a backoff doubling up to this. Short, because a
   * restarted broker is back within seconds and every send waits for the link meanwhile;
   * the jitter keeps all services from reconnecting in the same instant.
   * @default 1000
   */
  maxBackoffMs?: number;
}

/** Fails one publish still waiting for its confirm. */
type Fail = (err: Error) => void;

export class AmqpLink {
  private conn: ChannelModel | undefined;
  private ch: ConfirmChannel | undefined;
  /** The publishes on `ch` not confirmed yet; a fresh set per channel. */
  private unconfirmed = new Set<Fail>();
  private stopped = false;
  private connecting: Promise<void> | undefined;
  private readonly backoff: Backoff;
  private timer: NodeJS.Timeout | undefined;
  private readonly log: Logger;

  constructor(private readonly opts: AmqpLinkOptions) {
    this.backoff = new Backoff({
      initialMs: opts.minBackoffMs ?? 200,
      maxMs: opts.maxBackoffMs ?? 1000,
      jitter: 'equal',
    });
    this.log = opts.logger.child({ component: 'amqp' });
  }

  /** Whether a channel is open right now. */
  get up(): boolean {
    return this.ch !== undefined;
  }

  /** The open channel, for acks inside consumers. */
  get channel(): ConfirmChannel | undefined {
    return this.ch;
  }

  /** Connects, retrying until it works or `stop()` is called. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.connectLoop();
  }

  private async connectLoop(): Promise<void> {
    while (!this.stopped && !this.ch) {
      try {
        await this.connectOnce();
        this.backoff.reset();
      } catch (err) {
        const wait = this.backoff.next();
        this.log.warn({ err, retryInMs: wait }, 'amqp connect failed');
        await this.close();
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  private async connectOnce(): Promise<void> {
    // noDelay: amqplib leaves Nagle on, which with delayed ACKs adds ~40 ms to a publish
    // confirm round trip.
    const conn = await amqp.connect(this.opts.url, { timeout: 5000, noDelay: true });
    this.conn = conn;
    if (!coalesceWrites(conn)) {
      this.log.warn('amqplib internals unknown: broker frames written one by one');
    }
    const unconfirmed = new Set<Fail>();
    conn.on('error', (err: unknown) => this.log.warn({ err }, 'amqp connection error'));
    conn.on('close', () => this.lost('connection closed', unconfirmed));
    const ch = await conn.createConfirmChannel();
    ch.on('error', (err: unknown) => this.log.warn({ err }, 'amqp channel error'));
    ch.on('close', () => this.lost('channel closed', unconfirmed));
    await this.opts.setup(ch);
    this.unconfirmed = unconfirmed;
    this.ch = ch;
    this.log.info('amqp link up');
    this.opts.onState?.(true);
  }

  private lost(why: string, unconfirmed: Set<Fail>): void {
    // amqplib's own close handler, which ran first, fails the callbacks in its window only
    // up to the first slot already confirmed (confirms come out of order when a channel
    // publishes to queues of different kinds): fail every one still here.
    if (unconfirmed.size > 0) {
      const err = new Error(`amqp ${why} before the broker confirmed`);
      for (const fail of [...unconfirmed]) fail(err);
      unconfirmed.clear();
    }
    const wasUp = this.ch !== undefined;
    this.ch = undefined;
    const conn = this.conn;
    this.conn = undefined;
    if (conn) void conn.close().catch(() => undefined);
    if (this.stopped || !wasUp) return;
    this.log.warn({ why }, 'amqp link down; reconnecting');
    this.opts.onState?.(false);
    if (!this.connecting) {
      this.connecting = this.connectLoop().finally(() => {
        this.connecting = undefined;
      });
    }
  }

  /**
   * Publishes and resolves once the broker confirmed; rejects when the link is down, when
   * the broker nacks, or when the channel or connection closes before the confirm came.
   */
  publish(exchange: string, key: string, body: unknown, opts: Options.Publish = {}): Promise<void> {
    const ch = this.ch;
    if (!ch) return Promise.reject(new Error('amqp link is down'));
    const unconfirmed = this.unconfirmed;
    const buf = Buffer.from(JSON.stringify(body));
    return new Promise<void>((resolve, reject) => {
      const fail: Fail = (err) => {
        unconfirmed.delete(fail);
        reject(err);
      };
      unconfirmed.add(fail);
      try {
        ch.publish(exchange, key, buf, { contentType: 'application/json', ...opts }, (err) => {
          if (err) fail(err instanceof Error ? err : new Error(String(err)));
          else {
            unconfirmed.delete(fail);
            resolve();
          }
        });
      } catch (err) {
        fail(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  private async close(): Promise<void> {
    const { ch, conn } = this;
    this.ch = undefined;
    this.conn = undefined;
    if (ch) await ch.close().catch(() => undefined);
    if (conn) await conn.close().catch(() => undefined);
  }

  /** Stops reconnecting and closes the channel and connection. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.close();
  }
}
