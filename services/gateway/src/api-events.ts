/**
 * What the api publishes on Redis for the gateways: session revocations (close those
 * sockets) and contact events (push them to the recipient's connections here).
 */
import type { Redis } from 'ioredis';
import {
  CLOSE_CODES,
  EVENTS_CHANNEL,
  REVOCATIONS_CHANNEL,
  parseContactEvent,
  parseRevocation,
} from '@gossip/protocol';
import type { Logger } from '@gossip/servicekit';
import type { GatewayMetrics } from './metrics.js';
import type { ConnectionRegistry } from './registry.js';

export class ApiEvents {
  constructor(
    private readonly sub: Redis,
    private readonly redisPrefix: string,
    private readonly registry: ConnectionRegistry,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
  ) {}

  /** Subscribes to both channels (`sub` is a connected subscriber-only client). */
  async start(): Promise<void> {
    const revocations = this.redisPrefix + REVOCATIONS_CHANNEL;
    await this.sub.subscribe(this.redisPrefix + EVENTS_CHANNEL, revocations);
    this.sub.on('message', (channel: string, text: string) => {
      if (channel === revocations) this.onRevocation(text);
      else this.onContactEvent(text);
    });
  }

  /**
   * Sessions the api ended (logout, logout everywhere, password change, refresh-token
   * reuse, account deletion): their sockets here are closed with
   * `CLOSE_CODES.sessionRevoked`.
   */
  private onRevocation(text: string): void {
    const parsed = parseRevocation(text);
    if (!parsed.ok) {
      this.log.warn('invalid revocation message dropped');
      return;
    }
    const msg = parsed.message;
    const sids = msg.sids && new Set(msg.sids);
    const except = new Set(msg.except ?? []);
    for (const conn of [...this.registry.connsOf(msg.user)]) {
      if (sids ? !sids.has(conn.sid) : except.has(conn.sid)) continue;
      this.metrics.sessionsClosed.inc({ reason: 'revoked' });
      this.log.info(
        { conn: conn.id, user: conn.user, reason: msg.reason },
        'session revoked; closing',
      );
      conn.close(CLOSE_CODES.sessionRevoked, 'session revoked');
    }
  }

  /** A contact event the api published on Redis: push it if its recipient is here. */
  private onContactEvent(text: string): void {
    // Validated like the RabbitMQ messages: only a well-formed contact frame reaches a client.
    const parsed = parseContactEvent(text);
    if (!parsed.ok) {
      this.metrics.busInvalid.inc({ reason: parsed.reason });
      this.log.warn(
        { reason: parsed.reason, detail: parsed.detail },
        'invalid contact event dropped',
      );
      return;
    }
    const { to, frame } = parsed.message;
    // Held back like the engines' live pushes while a connection's first replay runs.
    for (const conn of this.registry.connsOf(to))
      conn.deliver({ frame, live: false, droppable: true });
  }
}
