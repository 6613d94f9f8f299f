/**
 * When a connection's pending messages are replayed: after it opens, when the RabbitMQ
 * link comes back, when its user's presence was lost, and after it fell behind.
 */
import type { Connection } from './connection.js';
import type { EngineBus } from './engine-bus.js';
import type { ConnectionRegistry } from './registry.js';

export class Drains {
  /** Connections that had a push skipped for backpressure: they ask for a replay once drained. */
  private readonly starved = new Set<Connection>();

  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly bus: EngineBus,
    private readonly highWaterBytes: number,
  ) {}

  /** Asks an engine to replay what is pending for `conn` (unless it closed meanwhile). */
  request(conn: Connection): void {
    if (!this.registry.has(conn)) return;
    void this.bus.announce(conn);
  }

  /** A push to `conn` was skipped for backpressure. */
  starve(conn: Connection): void {
    this.starved.add(conn);
  }

  /** `conn` closed. */
  forget(conn: Connection): void {
    this.starved.delete(conn);
  }

  /**
   * Sockets that had pushes skipped and have drained below half the high-water mark ask the
   * engine for a replay (at most once a second each), so a slow reader catches up at the
   * pace it reads instead of waiting for the redelivery timeout. Run on a timer.
   */
  refeed(): void {
    const now = Date.now();
    for (const conn of this.starved) {
      if (now - conn.lastReplayAt < 1000) continue;
      if (conn.bufferedAmount > this.highWaterBytes / 2) continue;
      this.starved.delete(conn);
      conn.lastReplayAt = now;
      this.request(conn);
    }
  }
}
