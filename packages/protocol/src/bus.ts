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
import { Type, type Static } from '@sinclair/typebox';
import { ERROR_CODES } from './errors.js';
import { MAX_ACK_IDS } from './limits.js';
import {
  ContactFrame,
  DeliveredFrame,
  DeliverFrame,
  MessageAttachments,
  MessageBody,
  MessageKind,
  ReplayedFrame,
  ServerSignalFrame,
  SignalName,
} from './frames.js';
import { EpochMs, MessageId, Username } from './primitives.js';

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

// Every message below is a TypeBox schema with its type, so a consumer validates what it
// takes off the bus (see bus-parse.ts) against the same definition the publisher compiles
// against. Unknown extra fields are allowed: during a rolling update one side may be newer.

/** A gateway instance id or a connection id (`<instanceId>/<n>`), as the gateway makes them. */
const Instance = Type.String({ minLength: 1, maxLength: 256 });

/** Where a reply for one client connection goes: its gateway instance and connection id. */
export const ReplyTo = Type.Object({ gw: Instance, conn: Instance });
export type ReplyTo = Static<typeof ReplyTo>;

// ---------------------------------------------------------------- gateway -> engine

/** A client's `send`, with `from` taken from its session. */
export const BusSend = Type.Object({
  op: Type.Literal('send'),
  id: MessageId,
  from: Username,
  to: Username,
  kind: MessageKind,
  body: MessageBody,
  /** The send frame's attachment ids, when it has some (checked by the engine). */
  attachments: Type.Optional(MessageAttachments),
  /** When the gateway received it (ms): becomes `sentAt` and orders the sender's messages. */
  at: EpochMs,
  ...ReplyTo.properties,
});
export type BusSend = Static<typeof BusSend>;

/** A client's `ack`. */
export const BusAck = Type.Object({
  op: Type.Literal('ack'),
  user: Username,
  ids: Type.Array(MessageId, { minItems: 1, maxItems: MAX_ACK_IDS }),
  ...ReplyTo.properties,
});
export type BusAck = Static<typeof BusAck>;

/** A connection was opened (or its presence re-registered): replay what is pending for it. */
export const BusConnected = Type.Object({
  op: Type.Literal('connected'),
  user: Username,
  /**
   * A connection resumed after it fell behind (backpressure): replay only the messages
   * sent at or after this time (ms), where the first one it missed is; contact events and
   * receipts in full. Absent: everything pending. Replaying more is only slower.
   */
  from: Type.Optional(EpochMs),
  ...ReplyTo.properties,
});
export type BusConnected = Static<typeof BusConnected>;

/** An ephemeral signal to relay (never stored). */
export const BusSignal = Type.Object({
  op: Type.Literal('signal'),
  from: Username,
  to: Username,
  signal: SignalName,
  body: ServerSignalFrame.properties.body,
  ...ReplyTo.properties,
});
export type BusSignal = Static<typeof BusSignal>;

export const EngineMessage = Type.Union([BusSend, BusAck, BusConnected, BusSignal]);
export type EngineMessage = Static<typeof EngineMessage>;

/** Engine message schemas by `op`. */
export const ENGINE_MESSAGES = {
  send: BusSend,
  ack: BusAck,
  connected: BusConnected,
  signal: BusSignal,
} as const;

// ---------------------------------------------------------------- engine -> gateway

/** The message with this id is stored: the gateway answers `accepted` on `conn`. */
export const BusStored = Type.Object({
  op: Type.Literal('stored'),
  conn: Instance,
  id: MessageId,
});
export type BusStored = Static<typeof BusStored>;

/** An error for one connection (a refused send, an ack of someone else's message). */
export const BusError = Type.Object({
  op: Type.Literal('error'),
  conn: Instance,
  code: Type.Union(ERROR_CODES.map((c) => Type.Literal(c))),
  message: Type.Optional(Type.String({ maxLength: 1024 })),
  ref: Type.Optional(Type.String({ maxLength: 64 })),
});
export type BusError = Static<typeof BusError>;

/**
 * A frame to push to user `to`: to its connection `conn` only when given (a replay), else
 * to every connection of `to` on this gateway.
 */
export const BusPush = Type.Object({
  op: Type.Literal('push'),
  to: Username,
  conn: Type.Optional(Instance),
  /** A first, live delivery (the gateway measures accept-to-deliver latency on these). */
  live: Type.Optional(Type.Boolean()),
  /**
   * Also the `stored` of this message, whose sender is on this gateway too: one publish
   * instead of two. The gateway answers `accepted` on `conn` before it pushes the frame.
   */
  stored: Type.Optional(Type.Object({ conn: Instance, id: MessageId })),
  frame: Type.Union([DeliverFrame, DeliveredFrame, ContactFrame, ServerSignalFrame, ReplayedFrame]),
});
export type BusPush = Static<typeof BusPush>;

/** The most frames one `pushes` message carries (an engine sends more as several). */
export const MAX_BUS_PUSHES = 256;

/** One frame of a `pushes` message: a live push to every connection of `to` on the gateway. */
export const BusPushItem = Type.Object({
  to: Username,
  frame: Type.Union([DeliverFrame, DeliveredFrame, ContactFrame, ServerSignalFrame]),
});
export type BusPushItem = Static<typeof BusPushItem>;

/**
 * Several live pushes in one bus message (today: the `delivered` receipts of one batch of
 * acks whose senders are on this gateway), each applied as a `push` without `conn`: every
 * frame is written to each connection of its `to` as its own WebSocket message, in order.
 *
 * A gateway that does not know this op drops it (`unknown_op`), so an engine sends it only
 * to a gateway whose presence claim says it understands it ({@link PRESENCE_PUSHES_MARK});
 * to any other, one `push` per frame as before.
 */
export const BusPushes = Type.Object({
  op: Type.Literal('pushes'),
  pushes: Type.Array(BusPushItem, { minItems: 1, maxItems: MAX_BUS_PUSHES }),
});
export type BusPushes = Static<typeof BusPushes>;

export const GatewayMessage = Type.Union([BusStored, BusError, BusPush, BusPushes]);
export type GatewayMessage = Static<typeof GatewayMessage>;

/** Gateway message schemas by `op`. */
export const GATEWAY_MESSAGES = {
  stored: BusStored,
  error: BusError,
  push: BusPush,
  pushes: BusPushes,
} as const;

/**
 * How a gateway's presence claim (see `presenceKey`) says that gateway takes `pushes`: the
 * claim's value, the time (ms) until which it holds, ends in this fraction. `Number()` of
 * the value is still that time (plus a tenth of a millisecond), so an engine that predates
 * the mark reads the claim as before; an engine reads the mark in the same HGETALL it
 * reads the claim with. The mark is written by the very gateway process that holds the
 * connection, with each claim: a gateway rolled back to a version without `pushes`, even
 * under the same instance id, overwrites it with its first claim of each user.
 */
export const PRESENCE_PUSHES_MARK = '.1';

/** A live presence claim as an engine reads it: the gateway, and whether it takes `pushes`. */
export interface PresenceClaim {
  gw: string;
  pushes: boolean;
}

/** The claims of a presence hash (`HGETALL` of `presenceKey`) that still hold at `now`. */
export function presenceClaims(fields: Record<string, string>, now: number): PresenceClaim[] {
  const out: PresenceClaim[] = [];
  for (const [gw, until] of Object.entries(fields)) {
    if (Number(until) > now) out.push({ gw, pushes: until.endsWith(PRESENCE_PUSHES_MARK) });
  }
  return out;
}

// ---------------------------------------------------------------- api -> gateway (Redis)

/**
 * What the api publishes on the Redis channel `EVENTS_CHANNEL` (see storage.ts): a contact
 * frame for user `to`, pushed by whichever gateway holds `to`'s connections.
 */
export const ContactEventMessage = Type.Object({ to: Username, frame: ContactFrame });
export type ContactEventMessage = Static<typeof ContactEventMessage>;
