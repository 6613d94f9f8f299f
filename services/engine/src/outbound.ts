/**
 * What the engine sends out: bus messages to one gateway's queue (confirmed by the
 * broker), error replies to a connection, and where a user is connected (the presence
 * hashes the gateways write).
 */
import type { Redis } from 'ioredis';
import { gatewayRoutingKey, type ErrorCode, type GatewayMessage } from '@gossip/protocol';
import type { AmqpLink, Logger } from '@gossip/servicekit';
import type { EngineMetrics } from './metrics.js';
import { lookupPresence, PresenceCache } from './presence.js';

/** A connection on a gateway: where a reply goes. */
export interface ConnRef {
  gw: string;
  conn: string;
}

/** A `push` bus message's frame. */
export type PushFrame = Extract<GatewayMessage, { op: 'push' }>['frame'];

export interface OutboundDeps {
  link: AmqpLink;
  /** The delivery exchange every gateway queue is bound to. */
  exchange: string;
  redis: Redis;
  redisPrefix: string;
  metrics: EngineMetrics;
  log: Logger;
  /** `ENGINE_PRESENCE_CACHE_MS` (see {@link PresenceCache}); 0 by default here. */
  presenceCacheMs?: number;
}

export class Outbound {
  /** The answers {@link pushPresence} gives: shared and briefly kept. */
  private readonly pushPresences: PresenceCache;

  constructor(private readonly d: OutboundDeps) {
    this.pushPresences = new PresenceCache((u) => this.lookup(u), d.presenceCacheMs ?? 0);
  }

  /** Publishes to gateway `gw`'s queue; resolves once the broker confirmed it. */
  toGateway(gw: string, msg: GatewayMessage, persistent = false): Promise<void> {
    return this.d.link.publish(this.d.exchange, gatewayRoutingKey(gw), msg, { persistent });
  }

  /** Sends an `error` to one connection (counted by code). */
  replyError(r: ConnRef, code: ErrorCode, ref?: string, message?: string): Promise<void> {
    this.d.metrics.errors.inc({ code });
    const msg: GatewayMessage = { op: 'error', conn: r.conn, code };
    if (ref !== undefined) msg.ref = ref;
    if (message !== undefined) msg.message = message;
    return this.toGateway(r.gw, msg);
  }

  /** True while Redis is connected: a presence lookup now is answered without a reconnect. */
  presenceReady(): boolean {
    return this.d.redis.status === 'ready';
  }

  /** The gateways holding `user` now; rejects when Redis does not answer. */
  lookup(user: string): Promise<string[]> {
    return lookupPresence(this.d.redis, this.d.redisPrefix, user);
  }

  /**
   * The gateways holding `user` now, none when Redis does not answer: the message waits in
   * MongoDB for a replay.
   */
  presence(user: string): Promise<string[]> {
    return this.orNone(this.lookup(user));
  }

  /**
   * Like {@link presence}, for the live push of a message already stored: the answer may be
   * shared with lookups of `user` in flight or kept from one up to `ENGINE_PRESENCE_CACHE_MS`
   * ago (never an empty one). Why that delays a message at worst until the redelivery scan
   * and never loses it: {@link PresenceCache}. Not for receipts and signals, which have no
   * scan behind them.
   */
  pushPresence(user: string): Promise<string[]> {
    return this.orNone(this.pushPresences.get(user));
  }

  /** `user` (re)connected (a `connected` from its gateway): the next push lookup is fresh. */
  connected(user: string): void {
    this.pushPresences.forget(user);
  }

  private async orNone(read: Promise<string[]>): Promise<string[]> {
    try {
      return await read;
    } catch (err) {
      this.d.log.warn({ err }, 'presence lookup failed');
      return [];
    }
  }
}
