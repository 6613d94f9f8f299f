/**
 * What the gateway tells the engines over RabbitMQ: clients' `send`, `ack` and `signal`,
 * and `connected` (replay what is pending for this connection). Every message goes to the
 * engines' routing key on the delivery exchange.
 */
import { ENGINE_ROUTING_KEY, type EngineMessage } from '@gossip/protocol';
import type { AmqpLink, Logger } from '@gossip/servicekit';
import type { Connection } from './connection.js';

export class EngineBus {
  constructor(
    private readonly link: AmqpLink,
    private readonly exchange: string,
    private readonly instanceId: string,
    private readonly log: Logger,
  ) {}

  /** Publishes one message to the engines; rejects when the link is down or unconfirmed. */
  publish(msg: EngineMessage, persistent = true): Promise<void> {
    return this.link.publish(this.exchange, ENGINE_ROUTING_KEY, msg, {
      persistent,
      messageId: msg.op === 'send' ? msg.id : undefined,
      type: msg.op,
    });
  }

  /**
   * Asks an engine to replay what is pending for this connection's user: the messages sent
   * at or after `from` (ms) when given, else all. False when it could not be published (the
   * link is down: its coming back up announces every connection again).
   */
  async announce(conn: Connection, from?: number): Promise<boolean> {
    const msg: EngineMessage = {
      op: 'connected',
      user: conn.user,
      gw: this.instanceId,
      conn: conn.id,
    };
    if (from !== undefined) msg.from = from;
    try {
      await this.publish(msg);
      return true;
    } catch (err) {
      this.log.warn({ err, conn: conn.id }, 'could not announce connection');
      return false;
    }
  }
}
