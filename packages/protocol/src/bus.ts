/**
 * The internal bus between gateways and engines: RabbitMQ names and the JSON messages
 * they exchange, defined once so both services agree. Clients never see these; what a
 * client sees are the frames in frames.ts, carried inside some of these messages.
 *
 * Topology (`<p>` = the deployment's AMQP prefix, `gossip` by default):
 * - one durable topic exchange `<p>.delivery`;
 * - the engines' shared durable queue `<p>.engine`, bound with `engine`;
 * - one queue per gateway instance `<p>.gateway.<instanceId>`, exclusive to that
 *   gateway's connection (so it vanishes with a dead gateway), bound with
 *   `gateway.<instanceId>`.
 *
 * Messages to the engine are published persistent with routing key `engine`; messages to a
 * gateway are transient notifications with routing key `gateway.<instanceId>` (the truth is
 * in MongoDB). All publishers use publisher confirms.
 */
import type {
  ClientSignalFrame,
  ContactFrame,
  DeliverFrame,
  DeliveredFrame,
  MessageKind,
  ServerSignalFrame,
} from './frames.js';
import type { ErrorCode } from './errors.js';

/** The deployment's default AMQP name prefix. */
export const DEFAULT_AMQP_PREFIX = 'gossip';

/** The topic exchange every bus message goes through. */
export function deliveryExchange(prefix: string): string {
  return `${prefix}.delivery`;
}

/** The engines' shared (competing consumers) queue. */
export function engineQueue(prefix: string): string {
  return `${prefix}.engine`;
}

/** Routing key of messages to the engines. */
export const ENGINE_ROUTING_KEY = 'engine';

/** One gateway instance's own queue. */
export function gatewayQueue(prefix: string, instanceId: string): string {
  return `${prefix}.gateway.${instanceId}`;
}

/** Routing key of messages to one gateway instance. */
export function gatewayRoutingKey(instanceId: string): string {
  return `gateway.${instanceId}`;
}

/** Where a reply for one client connection goes: its gateway instance and connection id. */
export interface ReplyTo {
  gw: string;
  conn: string;
}

// ---------------------------------------------------------------- gateway -> engine

/** A client's `send`, with `from` taken from its session. */
export interface BusSend extends ReplyTo {
  op: 'send';
  id: string;
  from: string;
  to: string;
  kind: MessageKind;
  body: string;
  /** When the gateway received it (ms): becomes `sentAt` and orders the sender's messages. */
  at: number;
}

/** A client's `ack`. */
export interface BusAck extends ReplyTo {
  op: 'ack';
  user: string;
  ids: string[];
}

/** A connection was opened (or its presence re-registered): replay what is pending for it. */
export interface BusConnected extends ReplyTo {
  op: 'connected';
  user: string;
}

/** An ephemeral signal to relay (never stored). */
export interface BusSignal extends ReplyTo {
  op: 'signal';
  from: string;
  to: string;
  signal: ClientSignalFrame['signal'];
  body?: string;
}

export type EngineMessage = BusSend | BusAck | BusConnected | BusSignal;

// ---------------------------------------------------------------- engine -> gateway

/** The message with this id is stored: the gateway answers `accepted` on `conn`. */
export interface BusStored {
  op: 'stored';
  conn: string;
  id: string;
}

/** An error for one connection (a refused send, an ack of someone else's message). */
export interface BusError {
  op: 'error';
  conn: string;
  code: ErrorCode;
  message?: string;
  ref?: string;
}

/**
 * A frame to push to user `to`: to its connection `conn` only when given (a replay), else
 * to every connection of `to` on this gateway.
 */
export interface BusPush {
  op: 'push';
  to: string;
  conn?: string;
  /** A first, live delivery (the gateway measures accept-to-deliver latency on these). */
  live?: boolean;
  frame: DeliverFrame | DeliveredFrame | ContactFrame | ServerSignalFrame;
}

export type GatewayMessage = BusStored | BusError | BusPush;
