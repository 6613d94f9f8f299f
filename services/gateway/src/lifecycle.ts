/**
 * An accepted connection's start and end: registered, counted, its presence claimed and
 * its replay asked for; on close the reverse.
 */
import { PROTOCOL_VERSION } from '@gossip/protocol';
import type { Logger, VerifiedToken } from '@gossip/servicekit';
import type { ConnectionCaps, UserConnectionCounts } from './caps.js';
import type { Connection, ConnectionEnv } from './connection.js';
import type { Drains } from './drains.js';
import type { GatewayMetrics } from './metrics.js';
import type { Presence } from './presence.js';
import type { ConnectionRegistry } from './registry.js';

export interface LifecycleOptions {
  instanceId: string;
  maxFrameBytes: number;
}

export class ConnectionLifecycle {
  private seq = 0;

  constructor(
    private readonly opts: LifecycleOptions,
    private readonly registry: ConnectionRegistry,
    private readonly presence: Presence,
    private readonly caps: ConnectionCaps,
    private readonly userCounts: UserConnectionCounts,
    private readonly drains: Drains,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
  ) {}

  /** A socket whose upgrade was accepted for `session`, attached to `env`. */
  open(conn: Connection, session: VerifiedToken, env: ConnectionEnv): void {
    conn.id = `${this.opts.instanceId}/${++this.seq}`;
    conn.user = session.username;
    conn.uid = session.uid;
    conn.sid = session.sid;
    conn.attach(env);
    conn.armExpiry(session.exp);
    this.registry.add(conn);
    this.metrics.connections.set(this.registry.size);
    this.metrics.connectionsOpened.inc();
    this.caps.opened(conn.address);
    this.log.info({ conn: conn.id, user: conn.user }, 'connected');
    conn.push({
      type: 'hello',
      version: PROTOCOL_VERSION,
      username: conn.user,
      maxFrameBytes: this.opts.maxFrameBytes,
      tokenExpiresInMs: Math.max(0, session.exp * 1000 - Date.now()),
    });
    void this.presence
      .claim([conn.user])
      .catch((err: unknown) => this.log.warn({ err }, 'presence claim failed'))
      .then(() => this.drains.request(conn));
  }

  /** A socket's `close`. */
  close(conn: Connection, code: number): void {
    const removed = this.registry.remove(conn);
    if (!removed) return;
    this.caps.closed(conn.address);
    this.drains.forget(conn);
    if (removed.last) {
      void this.presence
        .release(conn.user)
        .catch((err: unknown) => this.log.warn({ err }, 'presence release failed'));
    }
    this.metrics.connections.set(this.registry.size);
    this.metrics.connectionsClosed.inc();
    this.userCounts
      .set(conn.user, this.registry.countOf(conn.user))
      .catch((err: unknown) => this.log.warn({ err }, 'user connection count update failed'));
    this.log.info({ conn: conn.id, user: conn.user, code }, 'disconnected');
  }
}
