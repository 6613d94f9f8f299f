/**
 * WebSocket frames between a client and a gateway: JSON text frames, each an object with
 * a `type`. Client frames are strict (unknown fields are refused); server frames may gain
 * optional fields within a protocol version, so clients ignore fields they don't know.
 */
import { Type, type Static } from '@sinclair/typebox';
import { AttachmentId, MAX_ATTACHMENTS_PER_MESSAGE } from './attachments.js';
import { ERROR_CODES } from './errors.js';
import { MAX_ACK_IDS, MAX_BODY_CHARS, MAX_SIGNAL_BODY_CHARS } from './limits.js';
import { EpochMs, MessageId, Username } from './primitives.js';
import { PROTOCOL_VERSION } from './version.js';

const strict = { additionalProperties: false } as const;

export const MessageKind = Type.Union([Type.Literal('message'), Type.Literal('key')], {
  description:
    '`message`: an AES-256-GCM encrypted chat message. `key`: a signed envelope carrying ' +
    'a fresh AES key wrapped with the recipient’s RSA-OAEP key. Both travel the same ' +
    'at-least-once path.',
});
export type MessageKind = Static<typeof MessageKind>;

export const MessageBody = Type.String({
  minLength: 1,
  maxLength: MAX_BODY_CHARS,
  description: 'Opaque ciphertext envelope made by packages/crypto; the server never reads it.',
});

export const SignalName = Type.Union(
  [
    Type.Literal('typing'),
    Type.Literal('typing-stopped'),
    Type.Literal('call-ring'),
    Type.Literal('call-accept'),
    Type.Literal('call-decline'),
    Type.Literal('call-end'),
  ],
  { description: 'Ephemeral signal name.' },
);
export type SignalName = Static<typeof SignalName>;

const SignalBody = Type.String({
  minLength: 1,
  maxLength: MAX_SIGNAL_BODY_CHARS,
  description: 'Optional opaque (encrypted) payload, for example a call offer.',
});

/**
 * The attachments a message carries (optional). The engine stores the message only if each
 * is a finished upload of the sender naming the recipient, and deletes an attachment once
 * every recipient it names has acked a message carrying it.
 */
export const MessageAttachments = Type.Array(AttachmentId, {
  minItems: 1,
  maxItems: MAX_ATTACHMENTS_PER_MESSAGE,
  uniqueItems: true,
  description:
    'Ids of finished uploads of the sender, each naming `to` as a recipient; the ' +
    'key to each travels inside `body`.',
});

// ---------------------------------------------------------------- client -> server

export const SendFrame = Type.Object(
  {
    type: Type.Literal('send'),
    id: MessageId,
    to: Username,
    kind: MessageKind,
    body: MessageBody,
    attachments: Type.Optional(MessageAttachments),
  },
  {
    ...strict,
    description:
      'Send a message to an accepted contact. Resend with the same id until `accepted` ' +
      'arrives; the server stores one copy. The sender is the authenticated user, never ' +
      'a frame field.',
  },
);
export type SendFrame = Static<typeof SendFrame>;

export const AckFrame = Type.Object(
  {
    type: Type.Literal('ack'),
    ids: Type.Array(MessageId, { minItems: 1, maxItems: MAX_ACK_IDS, uniqueItems: true }),
  },
  {
    ...strict,
    description:
      'The recipient has handled these deliveries (messages or contact events); the server ' +
      'deletes them and sends `delivered` receipts to the senders of messages.',
  },
);
export type AckFrame = Static<typeof AckFrame>;

export const ClientSignalFrame = Type.Object(
  {
    type: Type.Literal('signal'),
    to: Username,
    signal: SignalName,
    body: Type.Optional(SignalBody),
  },
  {
    ...strict,
    description:
      'Ephemeral signal (typing, call ring): relayed to the recipient only if it is online ' +
      'right now, between accepted contacts. NEVER stored, never redelivered, no receipt.',
  },
);
export type ClientSignalFrame = Static<typeof ClientSignalFrame>;

export const PingFrame = Type.Object(
  { type: Type.Literal('ping'), ts: Type.Optional(EpochMs) },
  { ...strict, description: 'Application-level keepalive; answered by `pong` with the same ts.' },
);
export type PingFrame = Static<typeof PingFrame>;

/** Longest access token accepted in a frame (they are about 400 characters). */
export const MAX_ACCESS_TOKEN_CHARS = 4096;

export const AuthFrame = Type.Object(
  {
    type: Type.Literal('auth'),
    token: Type.String({ minLength: 1, maxLength: MAX_ACCESS_TOKEN_CHARS }),
  },
  {
    ...strict,
    description:
      'Re-authenticates the connection in band with a fresh access token of the same user ' +
      '(same `sub` and `uid`), before the current one expires; answered by `authenticated`. ' +
      'A connection whose token expires without one is closed with CLOSE_CODES.tokenExpired.',
  },
);
export type AuthFrame = Static<typeof AuthFrame>;

export const ClientFrame = Type.Union([
  SendFrame,
  AckFrame,
  ClientSignalFrame,
  PingFrame,
  AuthFrame,
]);
export type ClientFrame = Static<typeof ClientFrame>;
export type ClientFrameType = ClientFrame['type'];

// ---------------------------------------------------------------- server -> client

export const HelloFrame = Type.Object(
  {
    type: Type.Literal('hello'),
    version: Type.Literal(PROTOCOL_VERSION),
    username: Username,
    maxFrameBytes: Type.Integer(),
    /**
     * How long until the connection's token expires (ms, relative so client clocks do not
     * matter): send `auth` with a fresh token before then, or the socket is closed.
     */
    tokenExpiresInMs: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { description: 'First frame after the upgrade: who you are authenticated as, and limits.' },
);
export type HelloFrame = Static<typeof HelloFrame>;

export const AcceptedFrame = Type.Object(
  { type: Type.Literal('accepted'), id: MessageId },
  { description: 'The message with this id is durably stored; stop resending it.' },
);
export type AcceptedFrame = Static<typeof AcceptedFrame>;

export const DeliverFrame = Type.Object(
  {
    type: Type.Literal('deliver'),
    id: MessageId,
    from: Username,
    sentAt: EpochMs,
    kind: MessageKind,
    body: MessageBody,
  },
  {
    description:
      'A stored message for you. May arrive more than once (at-least-once); dedupe by id ' +
      'and `ack` it once handled. `from` is set by the server from the sender’s session; ' +
      '`sentAt` is when the server accepted it.',
  },
);
export type DeliverFrame = Static<typeof DeliverFrame>;

export const DeliveredFrame = Type.Object(
  {
    type: Type.Literal('delivered'),
    id: MessageId,
    to: Username,
    at: EpochMs,
  },
  { description: 'Receipt: the recipient acked your message with this id.' },
);
export type DeliveredFrame = Static<typeof DeliveredFrame>;

export const ServerSignalFrame = Type.Object(
  {
    type: Type.Literal('signal'),
    from: Username,
    signal: SignalName,
    body: Type.Optional(SignalBody),
  },
  { description: 'A relayed ephemeral signal. Never stored; do not ack.' },
);
export type ServerSignalFrame = Static<typeof ServerSignalFrame>;

export const ContactEventName = Type.Union([
  Type.Literal('request'),
  Type.Literal('accepted'),
  Type.Literal('rejected'),
  Type.Literal('removed'),
  Type.Literal('blocked'),
  Type.Literal('unblocked'),
  Type.Literal('key-changed'),
]);
export type ContactEventName = Static<typeof ContactEventName>;

export const ContactFrame = Type.Object(
  {
    type: Type.Literal('contact'),
    id: MessageId,
    event: ContactEventName,
    from: Username,
    at: EpochMs,
    keyVersion: Type.Optional(Type.Integer({ minimum: 1 })),
    body: Type.Optional(Type.String()),
  },
  {
    description:
      'A contact notification: `from` requested, accepted, rejected or removed you, or ' +
      'changed its keys (`keyVersion`; re-fetch and compare fingerprints). `blocked` and ' +
      '`unblocked` are no longer sent (a block is not revealed to the blocked user). ' +
      '`accepted` may carry the accepter’s opaque key envelope in `body`. Stored until ' +
      'acked with `ack` like a message.',
  },
);
export type ContactFrame = Static<typeof ContactFrame>;

export const ErrorFrame = Type.Object(
  {
    type: Type.Literal('error'),
    code: Type.Union(ERROR_CODES.map((c) => Type.Literal(c))),
    message: Type.String(),
    ref: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { description: '`ref` is the id of the frame that caused the error, when it had one.' },
);
export type ErrorFrame = Static<typeof ErrorFrame>;

export const DrainFrame = Type.Object(
  { type: Type.Literal('drain'), reconnectAfterMs: Type.Integer({ minimum: 0 }) },
  {
    description:
      'This gateway is shutting down: reconnect (to any gateway) after this delay. Resend ' +
      'anything not yet `accepted`.',
  },
);
export type DrainFrame = Static<typeof DrainFrame>;

export const PongFrame = Type.Object({ type: Type.Literal('pong'), ts: Type.Optional(EpochMs) });
export type PongFrame = Static<typeof PongFrame>;

export const AuthenticatedFrame = Type.Object(
  { type: Type.Literal('authenticated'), tokenExpiresInMs: Type.Integer({ minimum: 0 }) },
  { description: 'The `auth` token was accepted: the connection now lives until its expiry.' },
);
export type AuthenticatedFrame = Static<typeof AuthenticatedFrame>;

export const ReplayedFrame = Type.Object(
  { type: Type.Literal('replayed') },
  {
    description:
      'Everything stored for you when this connection opened has been sent: the backlog ' +
      'replay is over. Live frames held back during the replay follow, in (`sentAt`, `id`) ' +
      'order. Sent once per connection.',
  },
);
export type ReplayedFrame = Static<typeof ReplayedFrame>;

export const ServerFrame = Type.Union([
  HelloFrame,
  AcceptedFrame,
  DeliverFrame,
  DeliveredFrame,
  ServerSignalFrame,
  ContactFrame,
  ErrorFrame,
  DrainFrame,
  PongFrame,
  AuthenticatedFrame,
  ReplayedFrame,
]);
export type ServerFrame = Static<typeof ServerFrame>;
export type ServerFrameType = ServerFrame['type'];

/** Client frame schemas by `type`. */
export const CLIENT_FRAMES = {
  send: SendFrame,
  ack: AckFrame,
  signal: ClientSignalFrame,
  ping: PingFrame,
  auth: AuthFrame,
} as const;

/** Server frame schemas by `type`. */
export const SERVER_FRAMES = {
  hello: HelloFrame,
  accepted: AcceptedFrame,
  deliver: DeliverFrame,
  delivered: DeliveredFrame,
  signal: ServerSignalFrame,
  contact: ContactFrame,
  error: ErrorFrame,
  drain: DrainFrame,
  pong: PongFrame,
  authenticated: AuthenticatedFrame,
  replayed: ReplayedFrame,
} as const;
