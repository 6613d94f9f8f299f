/**
 * When a connection's pending messages are replayed (a drain): after it opens, when the
 * RabbitMQ link comes back, when its user's presence was lost, and after it fell behind.
 *
 * One drain per connection at a time, as Signal-Server's connection does: a drain asked
 * for while one is in flight (its engine has not said `replayed` yet) runs once that one
 * has ended, so a slow reader is resumed by one replay after the other instead of by
 * replays piling up. A connection that fell behind is resumed from where it stopped: its
 * drain asks only for the messages sent at or after the first one it missed
 * (`BusConnected.from`), not for every pending message again. A drain that stays silent
 * for `replayHoldMs` (its engine died or lost it) is given up on: the connection's held
 * frames go out, the client gets `replayed`, and the same drain is asked for again, so
 * what the lost one had not sent yet still comes (at least once). An engine that dies
 * half way is not the case for this: RabbitMQ gives its unacked `connected` to another.
 */
import type { Logger } from '@gossip/servicekit';
import type { Connection } from './connection.js';
import type { EngineBus } from './engine-bus.js';
import type { ConnectionRegistry } from './registry.js';

export interface DrainOptions {
  highWaterBytes: number;
  /** How long a drain may go without a frame before it is given up on. */
  replayHoldMs: number;
}

export class Drains {
  /** Connections that had a push skipped for backpressure: they ask for a replay once drained. */
  private readonly starved = new Set<Connection>();
  /** Connections whose drain was asked for and has not said `replayed` yet. */
  private readonly inflight = new Set<Connection>();

  constructor(
    private readonly opts: DrainOptions,
    private readonly registry: ConnectionRegistry,
    private readonly bus: EngineBus,
    private readonly log: Logger,
  ) {}

  /**
   * Asks an engine to replay what is pending for `conn` (unless it closed meanwhile): the
   * messages sent at or after `from` (ms) when given, else all. When a replay is in flight,
   * one more is asked for after it (from the earlier start of the two).
   */
  request(conn: Connection, from?: number): void {
    if (!this.registry.has(conn)) return;
    if (this.inflight.has(conn)) {
      conn.againFrom = earlier(conn.replayAgain ? conn.againFrom : from, from);
      conn.replayAgain = true;
      return;
    }
    this.inflight.add(conn);
    // This drain covers whatever another one was wanted for.
    conn.replayAgain = false;
    conn.inflightFrom = from;
    conn.replayProgressAt = Date.now();
    // Not published (the link is down): it stays in flight; the link coming back asks
    // again (see `relinked`), or the deadline does.
    void this.bus.announce(conn, from);
  }

  /**
   * The RabbitMQ link is back: this gateway's queue was new, so replies to drains asked
   * for before are lost. Every connection asks again. The `stored` replies to its sends
   * are lost the same way: each send still waiting gets `unavailable`, and the client
   * sends it again.
   */
  relinked(): void {
    this.inflight.clear();
    let retried = 0;
    for (const conn of this.registry.all()) {
      retried += conn.retryPendingSends();
      this.request(conn);
    }
    if (retried > 0) {
      this.log.warn({ sends: retried }, 'amqp link back; unconfirmed sends answered unavailable');
    }
  }

  /** A frame of `conn`'s replay arrived: its drain is alive. */
  progress(conn: Connection): void {
    conn.replayProgressAt = Date.now();
  }

  /**
   * The engine's `replayed` for `conn`: its drain is over. If frames of it were skipped
   * for backpressure, the backlog is not all sent: the client is told only after the next
   * drain (asked for once the socket has drained, see {@link tick}).
   */
  replayed(conn: Connection): void {
    this.inflight.delete(conn);
    if (this.starved.has(conn)) return;
    conn.finishReplay();
    if (conn.replayAgain) this.request(conn, conn.againFrom);
  }

  /** A push to `conn` was skipped for backpressure. */
  starve(conn: Connection): void {
    this.starved.add(conn);
  }

  /** `conn` closed. */
  forget(conn: Connection): void {
    this.starved.delete(conn);
    this.inflight.delete(conn);
  }

  /**
   * Run on a timer. Gives up on silent drains (see the module header). Sockets that had
   * pushes skipped and have drained below half the high-water mark ask for a replay (at
   * most once a second each, and not while one is in flight), so a slow reader catches up
   * at the pace it reads instead of waiting for the redelivery timeout.
   */
  tick(): void {
    const now = Date.now();
    for (const conn of this.inflight) {
      if (now - conn.replayProgressAt < this.opts.replayHoldMs) continue;
      this.log.warn({ conn: conn.id }, 'no replay progress; releasing held frames, asking again');
      this.inflight.delete(conn);
      conn.finishReplay();
      this.request(
        conn,
        earlier(conn.inflightFrom, conn.replayAgain ? conn.againFrom : conn.inflightFrom),
      );
    }
    for (const conn of this.starved) {
      if (this.inflight.has(conn) || now - conn.lastReplayAt < 1000) continue;
      if (conn.bufferedAmount > this.opts.highWaterBytes / 2) continue;
      this.starved.delete(conn);
      conn.lastReplayAt = now;
      // Resumed where it stopped: from the first message it missed, not from the start.
      const from = conn.missedFrom;
      conn.missedFrom = undefined;
      conn.holdLive();
      this.request(conn, from);
    }
  }
}

/** The earlier of two replay starts; undefined (from the start) is earliest. */
function earlier(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined ? undefined : Math.min(a, b);
}
