/**
 * The gateway's periodic upkeep of what it holds: its users' presence claims and
 * connection counts in Redis, and a WebSocket ping to each socket (one without a pong since
 * the last ping is terminated).
 */
import type { Logger } from '@gossip/servicekit';
import type { UserConnectionCounts } from './caps.js';
import type { Drains } from './drains.js';
import type { Presence } from './presence.js';
import type { ConnectionRegistry } from './registry.js';

export class Heartbeat {
  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly presence: Presence,
    private readonly userCounts: UserConnectionCounts,
    private readonly drains: Drains,
    private readonly log: Logger,
  ) {}

  /**
   * Re-claims every local user's presence (a user whose claim had vanished gets a replay:
   * engines parked its messages as offline meanwhile) and re-states the connection counts.
   */
  async beat(): Promise<void> {
    try {
      const lost = await this.presence.claim(this.registry.users());
      for (const user of lost) {
        this.log.info({ user }, 'presence was lost; re-announcing');
        for (const conn of this.registry.connsOf(user)) this.drains.request(conn);
      }
    } catch (err) {
      this.log.warn({ err }, 'presence heartbeat failed');
    }
    try {
      await this.userCounts.refresh(
        this.registry.users().map((u) => [u, this.registry.countOf(u)]),
      );
    } catch (err) {
      this.log.warn({ err }, 'user connection count heartbeat failed');
    }
  }

  /** Pings every socket; terminates those that did not answer the previous ping. */
  pingAll(): void {
    for (const conn of this.registry.all()) {
      if (!conn.alive) {
        this.log.info({ conn: conn.id }, 'no pong; terminating');
        conn.terminate();
        continue;
      }
      conn.alive = false;
      conn.ping();
    }
  }
}
