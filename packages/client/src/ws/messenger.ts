/**
 * `Messenger`: real-time end-to-end encrypted chat over a `GatewayConnection`, on top of
 * a `GossipClient`. It is what turns the server's at-least-once delivery into what an
 * application wants:
 *
 * - **outgoing**: `send(to, text)` encrypts (a key message goes first when needed), keeps
 *   every frame in an outbox until `accepted`, writes them in order, resends the
 *   un-accepted ones with the SAME id after every reconnect (the server stores one copy),
 *   reports accepted key frames to the `GossipClient`, and emits `status` events:
 *   `sending` -> `accepted` -> `delivered` (the recipient acked), or `failed`.
 * - **incoming**: deliveries are deduped by id (a bounded, persisted seen-set, so a
 *   restart still dedupes), opened and verified by the `GossipClient`, and handed to the
 *   application's handler once each, in the sender's order (`sentAt`, stamped by the
 *   gateway; out-of-order arrivals are buffered for `reorderWindowMs`). The `ack` is sent
 *   only after the handler returned; a handler that throws gets no ack, and the message
 *   is presented again when the server redelivers it. Key messages and contact events are
 *   handled out of band (never shown) and acked once stored; a message whose key has not
 *   arrived is held, unacked, and presented once the key is in.
 * - ephemeral `signal`s (typing) go out only while connected and come in as events.
 */
import { CryptoError } from '@gossip/crypto';
import {
  MAX_ACK_IDS,
  type ContactFrame,
  type DeliverFrame,
  type ErrorCode,
  type ErrorFrame,
  type SendFrame,
  type ServerFrame,
  type SignalName,
} from '@gossip/protocol';
import { KeyChangedError, MissingKeyError } from '../errors.js';
import type { GossipClient, OpenedContactEvent } from '../gossip.js';
import type { TransportState } from '../transport.js';
import {
  apiTokenSource,
  GatewayConnection,
  type GatewayConnectionOptions,
  type TokenSource,
} from './connection.js';
import { Emitter } from './emitter.js';
import type { WebSocketFactory } from './socket.js';
import { BoundedIdSet, MemoryMessengerStore, type MessengerStore } from './store.js';

/** A decrypted, verified message for the application. */
export interface ChatMessage {
  id: string;
  from: string;
  /** When the server accepted it (ms since the epoch). */
  sentAt: number;
  text: string;
  data: Uint8Array;
  /** The conversation key it was encrypted with. */
  keyId: string;
  /** The body exactly as the server stored and delivered it (ciphertext). */
  ciphertext: string;
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
  /** How long a delivery waits for earlier ones from the same sender (ms). @default 100 */
  reorderWindowMs?: number;
  /** How long a message without its key holds back later ones from its sender (ms). @default 30000 */
  keyWaitMs?: number;
  /**
   * After a reconnect the server replays what is pending while new messages already flow
   * live, and the wire cannot tell them apart: nothing is presented until deliveries have
   * paused this long (ms), so a replayed older message is not overtaken. @default 300
   */
  replayQuietMs?: number;
  /** That wait never lasts longer than this after a reconnect (ms). @default 3000 */
  replayMaxMs?: number;
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

type EntryState = 'waiting' | 'processing' | 'held' | 'parked' | 'failed';

interface Entry {
  frame: DeliverFrame;
  arrivedAt: number;
  state: EntryState;
  /** held: until when it blocks its sender; failed: when to retry. */
  until: number;
}

interface Outgoing {
  frame: SendFrame;
  /** The connection epoch it was last written on (0: not yet). */
  writtenOn: number;
  /** Do not (re)write before this (after a retryable error). */
  notBefore: number;
}

const RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'unavailable',
  'draining',
  'rate_limited',
  'internal',
]);

const RANK = { sending: 0, accepted: 1, delivered: 2, failed: 3 } as const;

const cmp = (a: DeliverFrame, b: DeliverFrame): number =>
  a.sentAt - b.sentAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Real-time chat for one logged-in `GossipClient`. */
export class Messenger extends Emitter<MessengerEvents> {
  readonly gossip: GossipClient;
  readonly connection: GatewayConnection;
  readonly stats: MessengerStats = {
    deliveries: 0,
    duplicates: 0,
    presented: 0,
    acked: 0,
    written: 0,
    resent: 0,
    connections: 0,
    drains: 0,
  };
  private readonly store: MessengerStore;
  private handler: MessageHandler | undefined;
  private readonly cfg: Required<
    Pick<
      MessengerOptions,
      | 'reorderWindowMs'
      | 'replayQuietMs'
      | 'replayMaxMs'
      | 'keyWaitMs'
      | 'handlerRetryMs'
      | 'seenLimit'
      | 'maxInFlight'
      | 'ratePerSecond'
      | 'rateBurst'
      | 'ackDelayMs'
    >
  >;
  private seen!: BoundedIdSet;
  private seenDirty = false;
  private started = false;
  /**
   * When the last replay began (a connect, or an old message arriving late, which means the
   * server is replaying), and when a delivery last came.
   */
  private replayFrom = 0;
  private lastArrival = 0;
  /** The `sentAt` of the last message shown per sender. */
  private readonly lastShown = new Map<string, number>();

  // incoming
  private readonly queues = new Map<string, Entry[]>();
  private readonly entries = new Map<string, Entry>();
  /** Key messages and contact events: handled before messages, outside the order. */
  private readonly priority: Array<DeliverFrame | ContactFrame> = [];
  private readonly priorityIds = new Set<string>();
  private pumping = false;
  private pumpAgain = false;
  private pumpTimer: ReturnType<typeof setTimeout> | undefined;
  private pumpTimerAt = Infinity;
  private readonly ackQueue = new Set<string>();
  private ackTimer: ReturnType<typeof setTimeout> | undefined;
  private flushingAcks = false;
  /** Recent ack frames by their first id (the `ref` of an error about them). */
  private readonly ackBatches = new Map<string, string[]>();

  // outgoing
  private outbox: Outgoing[] = [];
  private sendChain: Promise<unknown> = Promise.resolve();
  private outTimer: ReturnType<typeof setTimeout> | undefined;
  private tokens: number;
  private tokensAt = Date.now();
  private readonly keyFrameIds = new BoundedIdSet(1000);
  private readonly waiters = new Map<
    string,
    Array<{ state: DeliveryState; resolve: () => void; reject: (e: Error) => void }>
  >();
  private outboxSave: Promise<void> = Promise.resolve();
  /** The furthest delivery state emitted per recent message id. */
  private readonly reached = new Map<string, number>();

  constructor(opts: MessengerOptions) {
    super();
    this.gossip = opts.gossip;
    this.store = opts.store ?? new MemoryMessengerStore();
    this.handler = opts.onMessage;
    this.cfg = {
      reorderWindowMs: opts.reorderWindowMs ?? 100,
      replayQuietMs: opts.replayQuietMs ?? 300,
      replayMaxMs: opts.replayMaxMs ?? 3000,
      keyWaitMs: opts.keyWaitMs ?? 30_000,
      handlerRetryMs: opts.handlerRetryMs ?? 10_000,
      seenLimit: opts.seenLimit ?? 5000,
      maxInFlight: opts.maxInFlight ?? 64,
      ratePerSecond: opts.ratePerSecond ?? 40,
      rateBurst: opts.rateBurst ?? 60,
      ackDelayMs: opts.ackDelayMs ?? 15,
    };
    this.tokens = this.cfg.rateBurst;
    const connOpts: GatewayConnectionOptions = {
      // Whoever allowed plain http:// for the api meant the same for its gateway.
      allowInsecure: opts.gossip.api.allowInsecure,
      ...opts.connection,
      url: opts.url,
      token: opts.token ?? apiTokenSource(opts.gossip.api),
    };
    if (opts.webSocket) connOpts.webSocket = opts.webSocket;
    const me = usernameOf(opts.gossip);
    if (me && connOpts.expectedUsername === undefined) connOpts.expectedUsername = me;
    this.connection = new GatewayConnection(connOpts);
    this.connection.on('frame', (f) => this.onFrame(f));
    this.connection.on('open', () => this.onOpen());
    this.connection.on('state', (state) =>
      this.emit('connection', { state, url: this.connection.url }),
    );
    this.connection.on('error', ({ error, fatal }) =>
      this.emit('error', { kind: 'connection', error, fatal }),
    );
  }

  /** Sets the message handler (messages wait, unacked, until there is one). */
  onMessage(handler: MessageHandler): void {
    this.handler = handler;
    this.kick();
  }

  /** Loads the seen-set and outbox, then connects. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.seen = new BoundedIdSet(this.cfg.seenLimit, await this.store.loadSeen());
    for (const frame of await this.store.loadOutbox()) {
      this.outbox.push({ frame, writtenOn: 0, notBefore: 0 });
      if (frame.kind === 'key') this.keyFrameIds.add(frame.id);
    }
    this.connection.start();
  }

  /** Resolves once connected (after `hello`), or rejects after `timeoutMs`. */
  waitUntilOpen(timeoutMs = 15_000): Promise<void> {
    if (this.connection.state === 'open') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        off();
        reject(new Error(`no gateway connection within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.connection.on('open', () => {
        clearTimeout(t);
        off();
        resolve();
      });
    });
  }

  /** Flushes pending acks, saves state and disconnects for good. */
  async stop(): Promise<void> {
    await this.flushAcks();
    clearTimeout(this.pumpTimer);
    clearTimeout(this.outTimer);
    clearTimeout(this.ackTimer);
    await this.outboxSave;
    await this.connection.close();
    for (const [id, ws] of this.waiters) {
      for (const w of ws) w.reject(new Error(`messenger stopped before ${id} was ${w.state}`));
    }
    this.waiters.clear();
  }

  // ================================================================ outgoing

  /**
   * Encrypts `text` for `to` and queues it (after a key message when one is needed).
   * Resolves with the message id once queued; follow it with `status` events or `whenState`.
   */
  send(to: string, text: string | Uint8Array): Promise<{ id: string }> {
    // One at a time: each call sees the key state the previous one left.
    const run = this.sendChain.then(async () => {
      const frames = await this.gossip.prepareSend(to, text);
      for (const frame of frames) {
        this.outbox.push({ frame, writtenOn: 0, notBefore: 0 });
        if (frame.kind === 'key') this.keyFrameIds.add(frame.id);
      }
      const msg = frames[frames.length - 1] as SendFrame;
      this.saveOutbox();
      this.emitStatus(msg.id, to, 'sending');
      this.pumpOut();
      return { id: msg.id };
    });
    this.sendChain = run.catch(() => undefined);
    return run;
  }

  /** Resolves when message `id` reaches `state` (`accepted` or `delivered`); rejects if it fails. */
  whenState(id: string, state: 'accepted' | 'delivered', timeoutMs = 30_000): Promise<void> {
    const reached = this.reached.get(id);
    if (reached === RANK.failed) return Promise.reject(new Error(`message ${id} failed`));
    if (reached !== undefined && reached >= RANK[state]) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let list = this.waiters.get(id);
      if (!list) this.waiters.set(id, (list = []));
      const w = {
        state,
        resolve: () => {
          clearTimeout(t);
          resolve();
        },
        reject: (e: Error) => {
          clearTimeout(t);
          reject(e);
        },
      };
      const t = setTimeout(() => {
        const l = this.waiters.get(id);
        if (l) l.splice(l.indexOf(w), 1);
        reject(new Error(`message ${id} was not ${state} within ${timeoutMs} ms`));
      }, timeoutMs);
      list.push(w);
    });
  }

  /** Sends an ephemeral signal (typing...) if connected; returns whether it was written. */
  signal(to: string, signal: SignalName, body?: string): boolean {
    if (!this.takeToken()) return false;
    return this.connection.trySend(
      body === undefined ? { type: 'signal', to, signal } : { type: 'signal', to, signal, body },
    );
  }

  /** Sends not yet accepted. */
  get pendingSends(): number {
    return this.outbox.length;
  }

  private takeToken(): boolean {
    const now = Date.now();
    this.tokens = Math.min(
      this.cfg.rateBurst,
      this.tokens + ((now - this.tokensAt) / 1000) * this.cfg.ratePerSecond,
    );
    this.tokensAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private msUntilToken(): number {
    return Math.max(5, Math.ceil(((1 - this.tokens) / this.cfg.ratePerSecond) * 1000));
  }

  private saveOutbox(): void {
    const frames = this.outbox.map((o) => o.frame);
    this.outboxSave = this.outboxSave
      .then(() => this.store.saveOutbox(frames))
      .catch(() => undefined);
  }

  private pumpOut(): void {
    clearTimeout(this.outTimer);
    this.outTimer = undefined;
    const epoch = this.connection.epoch;
    if (this.connection.state !== 'open') return;
    let inFlight = this.outbox.filter((o) => o.writtenOn === epoch).length;
    const now = Date.now();
    for (const o of this.outbox) {
      if (o.writtenOn === epoch) continue;
      // In order: a frame waiting out a retryable error holds back the ones after it.
      if (o.notBefore > now) return this.armOut(o.notBefore - now);
      if (inFlight >= this.cfg.maxInFlight) return;
      if (!this.takeToken()) return this.armOut(this.msUntilToken());
      if (!this.connection.trySend(o.frame)) return;
      if (o.writtenOn !== 0) this.stats.resent++;
      o.writtenOn = epoch;
      this.stats.written++;
      inFlight++;
    }
  }

  private armOut(ms: number): void {
    this.outTimer = setTimeout(() => this.pumpOut(), ms);
  }

  private emitStatus(id: string, to: string, state: DeliveryState, code?: ErrorCode): void {
    // Never backwards: a receipt may overtake the `accepted` of a resend.
    const rank = RANK;
    const prev = this.reached.get(id);
    if (prev !== undefined && prev >= rank[state]) return;
    this.reached.set(id, rank[state]);
    if (this.reached.size > 2000) this.reached.delete(this.reached.keys().next().value as string);
    const ev: StatusEvent = { id, to, state, at: Date.now() };
    if (code) ev.code = code;
    this.emit('status', ev);
    const list = this.waiters.get(id);
    if (!list) return;
    for (const w of [...list]) {
      if (state === 'failed') w.reject(new Error(`message ${id} failed: ${code ?? 'error'}`));
      else if (rank[state] >= rank[w.state]) w.resolve();
      else continue;
      list.splice(list.indexOf(w), 1);
    }
    if (list.length === 0) this.waiters.delete(id);
  }

  private async onAccepted(id: string): Promise<void> {
    const i = this.outbox.findIndex((o) => o.frame.id === id);
    if (i < 0) return; // a resend's second `accepted`
    const [o] = this.outbox.splice(i, 1) as [Outgoing];
    this.saveOutbox();
    if (o.frame.kind === 'key') {
      try {
        await this.gossip.keyMessageAccepted(o.frame);
      } catch {
        // Unconfirmed keys are simply sent again with the next message.
      }
    } else {
      this.emitStatus(id, o.frame.to, 'accepted');
    }
    this.pumpOut();
  }

  private onSendError(o: Outgoing, err: ErrorFrame): void {
    if (RETRYABLE.has(err.code)) {
      o.writtenOn = 0;
      o.notBefore = Date.now() + (err.code === 'rate_limited' ? 1000 : 500);
      this.pumpOut();
      return;
    }
    this.outbox.splice(this.outbox.indexOf(o), 1);
    this.saveOutbox();
    if (o.frame.kind === 'message') this.emitStatus(o.frame.id, o.frame.to, 'failed', err.code);
    this.emit('error', {
      kind: 'send_failed',
      id: o.frame.id,
      to: o.frame.to,
      code: err.code,
      message: err.message,
    });
    this.pumpOut();
  }

  // ================================================================ connection

  private onOpen(): void {
    this.stats.connections++;
    this.replayFrom = Date.now();
    this.lastArrival = 0;
    // A new connection: everything not yet accepted goes again, same ids, same order.
    this.pumpOut();
    this.scheduleAckFlush(0);
  }

  private onFrame(f: ServerFrame): void {
    switch (f.type) {
      case 'accepted':
        void this.onAccepted(f.id);
        return;
      case 'delivered':
        // A receipt implies it was stored, even if the `accepted` was lost on the way.
        if (this.outbox.some((o) => o.frame.id === f.id)) {
          void this.onAccepted(f.id).then(() => {
            if (!this.keyFrameIds.has(f.id)) this.emitStatus(f.id, f.to, 'delivered');
          });
          return;
        }
        if (!this.keyFrameIds.has(f.id)) this.emitStatus(f.id, f.to, 'delivered');
        return;
      case 'deliver':
        this.onDeliver(f);
        return;
      case 'contact':
        this.onPriority(f);
        return;
      case 'signal': {
        const ev: MessengerEvents['signal'] = { from: f.from, signal: f.signal };
        if (f.body !== undefined) ev.body = f.body;
        this.emit('signal', ev);
        return;
      }
      case 'error': {
        const o = f.ref ? this.outbox.find((x) => x.frame.id === f.ref) : undefined;
        if (o) return this.onSendError(o, f);
        const batch = f.ref ? this.ackBatches.get(f.ref) : undefined;
        if (batch && RETRYABLE.has(f.code)) {
          // The gateway could not record these acks: send them again.
          for (const id of batch) this.queueAck(id);
          return;
        }
        const ev: MessengerError = { kind: 'server', code: f.code, message: f.message };
        if (f.ref !== undefined) ev.ref = f.ref;
        this.emit('error', ev);
        return;
      }
      case 'drain':
        this.stats.drains++;
        // Acks still count on a draining gateway: send what is ready before leaving.
        void this.flushAcks();
        return;
      case 'hello':
      case 'pong':
      case 'authenticated':
        return;
    }
  }

  // ================================================================ incoming

  private onDeliver(f: DeliverFrame): void {
    this.stats.deliveries++;
    this.lastArrival = Date.now();
    if (f.kind === 'key') return this.onPriority(f);
    if (this.seen.has(f.id)) {
      // Handled before, but the ack was lost: ack again, do not show again.
      this.stats.duplicates++;
      this.queueAck(f.id);
      return;
    }
    const known = this.entries.get(f.id);
    if (known) {
      this.stats.duplicates++;
      if (known.state === 'failed') {
        // The redelivery of a message whose handler threw: present it again.
        known.state = 'waiting';
        known.arrivedAt = Date.now();
        this.kick();
      }
      return;
    }
    if (f.sentAt < (this.lastShown.get(f.from) ?? 0) && Date.now() - this.replayFrom > 1000) {
      // Older than what was shown: the server is replaying (after backpressure, say). Let
      // the replay settle before showing newer messages, as after a connect.
      this.replayFrom = Date.now();
    }
    const entry: Entry = { frame: f, arrivedAt: Date.now(), state: 'waiting', until: 0 };
    this.entries.set(f.id, entry);
    let q = this.queues.get(f.from);
    if (!q) this.queues.set(f.from, (q = []));
    let i = q.length;
    while (i > 0 && cmp(q[i - 1]!.frame, f) > 0) i--;
    q.splice(i, 0, entry);
    this.kick();
  }

  private onPriority(f: DeliverFrame | ContactFrame): void {
    if (f.type === 'contact') this.stats.deliveries++;
    if (this.seen.has(f.id) || this.priorityIds.has(f.id)) {
      this.stats.duplicates++;
      if (this.seen.has(f.id)) this.queueAck(f.id);
      return;
    }
    this.priorityIds.add(f.id);
    this.priority.push(f);
    this.kick();
  }

  private kick(): void {
    if (!this.started) return;
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      for (;;) {
        this.pumpAgain = false;
        const p = this.priority.shift();
        if (p) {
          await this.handlePriority(p);
          this.priorityIds.delete(p.id);
          continue;
        }
        const next = this.nextEligible();
        if (next.entry) {
          await this.present(next.entry);
          continue;
        }
        if (next.waitMs !== undefined) this.armPump(next.waitMs);
        if (!this.pumpAgain) break;
      }
    } finally {
      this.pumping = false;
    }
  }

  private armPump(ms: number): void {
    const at = Date.now() + ms;
    if (this.pumpTimer !== undefined && this.pumpTimerAt <= at) return;
    clearTimeout(this.pumpTimer);
    this.pumpTimerAt = at;
    this.pumpTimer = setTimeout(() => {
      this.pumpTimer = undefined;
      this.pumpTimerAt = Infinity;
      this.kick();
    }, ms);
  }

  /** The next message to present: the earliest-sent eligible head over all senders. */
  private nextEligible(): { entry?: Entry; waitMs?: number } {
    if (!this.handler) return {};
    const now = Date.now();
    // Until the replay after the last connect went quiet, nothing may overtake it.
    const replayUntil = Math.min(
      this.replayFrom + this.cfg.replayMaxMs,
      Math.max(this.replayFrom, this.lastArrival) + this.cfg.replayQuietMs,
    );
    let best: Entry | undefined;
    let waitMs: number | undefined;
    const wait = (ms: number): void => {
      waitMs = waitMs === undefined ? ms : Math.min(waitMs, ms);
    };
    for (const q of this.queues.values()) {
      for (const e of q) {
        if (e.state === 'parked' || e.state === 'processing') continue;
        if (e.state === 'held') {
          if (now < e.until) {
            wait(e.until - now);
            break; // blocks later messages from this sender
          }
          e.state = 'parked';
          this.emit('error', {
            kind: 'key_missing',
            id: e.frame.id,
            from: e.frame.from,
            error: new MissingKeyError(
              'conversation',
              `message ${e.frame.id} from ${e.frame.from} still has no key; showing later messages first`,
            ),
          });
          continue;
        }
        if (e.state === 'failed') {
          if (now < e.until) {
            wait(e.until - now);
            break;
          }
          e.state = 'waiting';
        }
        if (now < replayUntil) {
          wait(replayUntil - now);
          break;
        }
        const ready = e.arrivedAt + this.cfg.reorderWindowMs;
        if (ready > now) {
          wait(ready - now);
          break;
        }
        if (!best || cmp(e.frame, best.frame) < 0) best = e;
        break;
      }
    }
    return best ? { entry: best } : waitMs === undefined ? {} : { waitMs };
  }

  private remove(e: Entry): void {
    this.entries.delete(e.frame.id);
    const q = this.queues.get(e.frame.from);
    if (!q) return;
    const i = q.indexOf(e);
    if (i >= 0) q.splice(i, 1);
    if (q.length === 0) this.queues.delete(e.frame.from);
  }

  private async present(e: Entry): Promise<void> {
    const f = e.frame;
    e.state = 'processing';
    let opened;
    try {
      opened = await this.gossip.openDeliver(f);
    } catch (err) {
      if (err instanceof MissingKeyError && err.what === 'conversation') {
        e.state = 'held';
        e.until = Date.now() + this.cfg.keyWaitMs;
        this.emit('held', { id: f.id, from: f.from });
        return;
      }
      if (err instanceof KeyChangedError || err instanceof CryptoError) {
        this.remove(e);
        this.failed(f.id, f.from, err);
        return;
      }
      // Probably transient (the api unreachable while pinning a key): keep its place and
      // retry, so later messages from this sender do not overtake it.
      e.state = 'failed';
      e.until = Date.now() + this.cfg.handlerRetryMs;
      this.failed(f.id, f.from, err);
      return;
    }
    if (opened.kind === 'key') {
      // Not reached (keys take the priority path), but never show a key.
      this.remove(e);
      this.handled(f.id);
      this.release(f.from);
      return;
    }
    const handler = this.handler;
    if (!handler) {
      e.state = 'waiting';
      return;
    }
    const msg: ChatMessage = {
      id: opened.id,
      from: opened.from,
      sentAt: opened.sentAt,
      text: opened.text,
      data: opened.data,
      keyId: opened.keyId,
      ciphertext: f.body,
    };
    try {
      await handler(msg);
    } catch (err) {
      e.state = 'failed';
      e.until = Date.now() + this.cfg.handlerRetryMs;
      this.emit('error', { kind: 'handler_failed', id: f.id, from: f.from, error: err });
      return;
    }
    this.stats.presented++;
    this.lastShown.set(f.from, Math.max(this.lastShown.get(f.from) ?? 0, f.sentAt));
    this.remove(e);
    this.handled(f.id);
  }

  private async handlePriority(f: DeliverFrame | ContactFrame): Promise<void> {
    if (this.seen.has(f.id)) {
      this.queueAck(f.id);
      return;
    }
    try {
      if (f.type === 'deliver') {
        await this.gossip.openDeliver(f);
        this.handled(f.id);
        this.release(f.from);
      } else {
        const ev = await this.gossip.openContactEvent(f);
        this.handled(f.id);
        if (ev.event === 'key-changed' && 'error' in ev && ev.error) {
          this.emit('error', { kind: 'key_changed', id: f.id, from: f.from, error: ev.error });
        }
        this.emit('contact', { ...ev, id: f.id, at: f.at });
        if ('keyId' in ev && ev.keyId) this.release(f.from);
      }
    } catch (err) {
      this.failed(f.id, f.from, err);
    }
  }

  /** Classifies a delivery that could not be opened. */
  private failed(id: string, from: string, err: unknown): void {
    if (err instanceof KeyChangedError) {
      this.emit('error', { kind: 'key_changed', id, from, error: err });
    } else if (err instanceof CryptoError) {
      // Will never open (tampered, forged, wrong recipient): ack so it stops coming back.
      this.handled(id);
      this.emit('error', { kind: 'undecryptable', id, from, error: err });
    } else {
      this.emit('error', {
        kind: 'delivery_failed',
        id,
        from,
        error: err instanceof Error ? err : new Error(String(err)),
      });
    }
  }

  /** A key from `from` arrived: its held messages may open now. */
  private release(from: string): void {
    for (const e of this.queues.get(from) ?? []) {
      if (e.state === 'held' || e.state === 'parked') {
        e.state = 'waiting';
        e.arrivedAt = 0; // already waited
      }
    }
    this.kick();
  }

  /** Marks a delivery handled (seen) and acks it. */
  private handled(id: string): void {
    this.seen.add(id);
    this.seenDirty = true;
    this.queueAck(id);
  }

  private queueAck(id: string): void {
    this.ackQueue.add(id);
    this.scheduleAckFlush(this.ackQueue.size >= MAX_ACK_IDS ? 0 : this.cfg.ackDelayMs);
  }

  private scheduleAckFlush(ms: number): void {
    if (this.ackTimer !== undefined) {
      if (ms > 0) return;
      clearTimeout(this.ackTimer);
    }
    this.ackTimer = setTimeout(() => {
      this.ackTimer = undefined;
      void this.flushAcks();
    }, ms);
  }

  /** Persists the seen-set, then sends the queued acks (ack only what is remembered). */
  private async flushAcks(): Promise<void> {
    if (this.flushingAcks || !this.seen) return;
    this.flushingAcks = true;
    try {
      // Only ids queued before the save are acked in this round.
      const ready = [...this.ackQueue];
      if (this.seenDirty) {
        this.seenDirty = false;
        try {
          await this.store.saveSeen(this.seen.toArray());
        } catch {
          this.seenDirty = true;
          this.scheduleAckFlush(1000);
          return;
        }
      }
      while (ready.length > 0 && this.connection.state === 'open') {
        if (!this.takeToken()) {
          this.scheduleAckFlush(this.msUntilToken());
          return;
        }
        const ids = ready.slice(0, MAX_ACK_IDS);
        if (!this.connection.trySend({ type: 'ack', ids })) break;
        this.ackBatches.set(ids[0] as string, ids);
        if (this.ackBatches.size > 64) {
          this.ackBatches.delete(this.ackBatches.keys().next().value as string);
        }
        ready.splice(0, ids.length);
        for (const id of ids) this.ackQueue.delete(id);
        this.stats.acked += ids.length;
      }
      // Acks left over (disconnected) go after the next `hello`; the replay re-sends their
      // messages anyway and the seen-set acks those again.
    } finally {
      this.flushingAcks = false;
    }
    if (this.ackQueue.size > 0 && this.connection.state === 'open') {
      this.scheduleAckFlush(this.cfg.ackDelayMs);
    }
  }
}

function usernameOf(gossip: GossipClient): string | undefined {
  try {
    return gossip.username;
  } catch {
    return undefined;
  }
}
