/**
 * The `Messenger`'s public vocabulary: the messages, events, options, counters and hooks
 * an application (or a test harness) sees. Types only, so every piece of the delivery
 * core can import them without importing the `Messenger`.
 */
import type {
  ContactFrame,
  DeliverFrame,
  ErrorCode,
  SendFrame,
  SignalName,
} from '@gossip/protocol';
import type { AttachmentRef } from '../attachments/message.js';
import type { KeyChangedError, MissingKeyError } from '../errors.js';
import type { GossipClient, OpenedContactEvent } from '../gossip.js';
import type { GatewayConnectionOptions, TransportState } from './connection.js';
import type { WebSocketFactory } from './socket.js';
import type { MessengerStore } from './store.js';
import type { TokenSource } from './token-source.js';

/** A decrypted, verified message for the application. */
export interface ChatMessage {
  id: string;
  from: string;
  /** When the server accepted it (ms since the epoch). */
  sentAt: number;
  text: string;
  data: Uint8Array;
  /** v1: the conversation key it was encrypted with; v2: `v2:<sender's device>`. */
  keyId: string;
  /** The body format: 1 (a conversation key), 2 (a ratchet session, issue 16). */
  version: 1 | 2;
  /**
   * v2: how many earlier messages of the session had not arrived when this one did (a
   * gap; they are shown when they arrive, within the ratchet's skipped-key bound).
   */
  skipped?: number;
  /** The body exactly as the server stored and delivered it (ciphertext). */
  ciphertext: string;
  /**
   * The file this message carries (then `text` is its caption, `data` the raw plaintext):
   * fetch it with `Messenger.download`.
   */
  attachment?: AttachmentRef;
}

/** Handles one message; the message is acked after it resolves, not if it throws. */
export type MessageHandler = (message: ChatMessage) => void | Promise<void>;

/** Where an outgoing message is. */
export type DeliveryState = 'sending' | 'accepted' | 'delivered' | 'failed';

export interface StatusEvent {
  id: string;
  to: string;
  state: DeliveryState;
  at: number;
  /** For `failed`: why. */
  code?: ErrorCode;
}

/** Something went wrong; delivery goes on unless said otherwise. */
export type MessengerError =
  /** The server refused a send for good (not a contact, blocked, unknown user...). */
  | { kind: 'send_failed'; id: string; to: string; code: ErrorCode; message: string }
  /** An error frame not tied to one of our sends (for example `recipient_offline`). */
  | { kind: 'server'; code: ErrorCode; message: string; ref?: string }
  /**
   * v2: more messages of the session with `from` are missing than the ratchet can skip:
   * this one and the missing ones cannot be read. Acked and dropped; the session is
   * dropped too, so the next message sent to `from` starts a new one.
   */
  | { kind: 'gap'; id: string; from: string; error: Error }
  /** A delivery that can never be opened (tampered, forged): acked and dropped. */
  | { kind: 'undecryptable'; id: string; from: string; error: Error }
  /** A message has waited `keyWaitMs` for its key; later ones from `from` go ahead of it. */
  | { kind: 'key_missing'; id: string; from: string; error: MissingKeyError }
  /** A contact's keys changed: compare safety numbers, then `trustContactKeys`. Not acked. */
  | { kind: 'key_changed'; id: string; from: string; error: KeyChangedError }
  /** The application's handler threw: not acked, presented again on redelivery. */
  | { kind: 'handler_failed'; id: string; from: string; error: unknown }
  /** A delivery could not be handled now (for example the api was unreachable): not acked, retried. */
  | { kind: 'delivery_failed'; id: string; from: string; error: Error }
  /** Connecting failed (retrying), or for good (`fatal`, e.g. the session is gone). */
  | { kind: 'connection'; error: Error; fatal: boolean };

/** A contact event, after the `GossipClient` handled it (a carried key is stored). */
export type ContactEvent = OpenedContactEvent & { id: string; at: number };

export interface MessengerEvents extends Record<string, unknown> {
  status: StatusEvent;
  signal: { from: string; signal: SignalName; body?: string };
  contact: ContactEvent;
  error: MessengerError;
  connection: { state: TransportState; url: string };
  /** A message is waiting for its conversation key (not shown, not acked yet). */
  held: { id: string; from: string };
  /**
   * The server has sent everything stored for us when this connection opened (`epoch`
   * counts connections): the conversation is caught up, live messages follow.
   */
  replayed: { epoch: number };
}

export interface MessengerOptions {
  gossip: GossipClient;
  /** Gateway WebSocket URL(s); reconnects rotate through them. */
  url: string | readonly string[];
  /** How sockets are made (Node: `nodeWebSocketFactory()`). @default the global WebSocket */
  webSocket?: WebSocketFactory;
  /** @default the `GossipClient`'s api session, refreshed as needed */
  token?: TokenSource;
  /** @default in memory */
  store?: MessengerStore;
  /** The application's message handler (or set it later with `onMessage`). */
  onMessage?: MessageHandler;
  /**
   * How long a delivery waits for earlier ones from the same sender (ms). The server sends
   * each connection's frames in (`sentAt`, `id`) order, the backlog replay before the live
   * frames it held (then `replayed`), so the default shows each message as it arrives; a
   * window only helps against a server that does not keep that order. @default 0
   */
  reorderWindowMs?: number;
  /** How long a message without its key holds back later ones from its sender (ms). @default 30000 */
  keyWaitMs?: number;
  /** A message whose handler threw is retried after this if no redelivery came (ms). @default 10000 */
  handlerRetryMs?: number;
  /** How many handled delivery ids are remembered. @default 5000 */
  seenLimit?: number;
  /** Sends written but not yet accepted, at most. @default 64 */
  maxInFlight?: number;
  /** Frames per second this client writes (stay under the gateway's limit). @default 40 */
  ratePerSecond?: number;
  /** @default 60 */
  rateBurst?: number;
  /** Acks are batched for this long (ms). @default 15 */
  ackDelayMs?: number;
  /** Passed to the `GatewayConnection` (backoff, ping...). */
  connection?: Omit<GatewayConnectionOptions, 'url' | 'token' | 'webSocket'>;
  /** Observers of the delivery core, for test harnesses that count (see `MessengerHooks`). */
  hooks?: MessengerHooks;
}

/**
 * Synchronous observers of the delivery core, called as each step happens (after the
 * state changed). Meant for harnesses that count what the real SDK did (the chaos suite,
 * load tests): every hook is optional, and a hook that throws is ignored, so it never
 * changes delivery.
 */
export interface MessengerHooks {
  /** A `send` frame was written to the socket; `resend` when it had been written before. */
  onSent?(frame: SendFrame, resend: boolean): void;
  /** The server stored one of our sends (once per id; key frames included). */
  onAccepted?(id: string, frame: SendFrame): void;
  /** A receipt: the recipient acked our message `id` (once per id, messages only). */
  onDelivered?(id: string, to: string): void;
  /** The server refused a send for good. */
  onFailed?(id: string, frame: SendFrame, code: ErrorCode): void;
  /** A `deliver` or `contact` frame arrived (duplicates included). */
  onReceived?(frame: DeliverFrame | ContactFrame): void;
  /**
   * A delivery was dropped as a duplicate (already handled, or already queued; v2: a
   * redelivery of a message decrypted before, or a replay the ratchet refused).
   */
  onDuplicate?(id: string, frame: DeliverFrame | ContactFrame): void;
  /** The application's handler returned for this message (it is acked next). */
  onShown?(message: ChatMessage): void;
  /** These ids went out in one `ack` frame. */
  onAcked?(ids: readonly string[]): void;
  /** The server finished this connection's backlog replay (the `replayed` frame). */
  onReplayed?(epoch: number): void;
}

/** Counters, for tests and diagnostics. */
export interface MessengerStats {
  /** `deliver` frames received, duplicates included. */
  deliveries: number;
  /** Deliveries dropped as duplicates (already handled, or already queued). */
  duplicates: number;
  /** Messages handed to the handler successfully. */
  presented: number;
  /** Ids acked. */
  acked: number;
  /** Send frames written (resends included). */
  written: number;
  /** Send frames written again after a reconnect or a retryable error. */
  resent: number;
  /** Connections that reached `hello`. */
  connections: number;
  drains: number;
}

/** Emits one `Messenger` event (the pieces of the delivery core report through this). */
export type EmitMessengerEvent = <K extends keyof MessengerEvents>(
  event: K,
  payload: MessengerEvents[K],
) => void;
