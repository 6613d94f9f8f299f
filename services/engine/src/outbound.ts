/**
 * What the engine sends out: bus messages to one gateway's queue (confirmed by the
 * broker), error replies to a connection, and where a user is connected (the presence
 * hashes the gateways write).
 */
import type { Redis } from 'ioredis';
import { gatewayRoutingKey, type ErrorCode, type GatewayMessage } from '@gossip/protocol';
import type { AmqpLink, Logger } from '@gossip/servicekit';
import type { EngineMetrics } from './metrics.js';
import { lookupPresence } from './presence.js';

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
}

export class Outbound {
  constructor(private readonly d: OutboundDeps) {}

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
  async presence(user: string): Promise<string[]> {
    try {
      return await this.lookup(user);
    } catch (err) {
      this.d.log.warn({ err }, 'presence lookup failed');
      return [];
    }
  }
}
