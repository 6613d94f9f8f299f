/**
 * `Messenger`: real-time end-to-end encrypted chat over a `GatewayConnection`, on top of
 * a `GossipClient`. It turns the server's at-least-once delivery into what an
 * application wants, through four collaborators that each own one state machine:
 *
 * - `Outbox` (outgoing): `send(to, text)` encrypts (a key message goes first when
 *   needed); every frame stays until `accepted`, is written in order, and is written again
 *   with the SAME id after every reconnect (the server stores one copy).
 * - `DeliveryStates`: `status` events `sending` -> `accepted` -> `delivered` (the
 *   recipient acked), or `failed`, and `whenState`.
 * - `Inbox` (incoming): deduped, opened and verified, handed to the handler once each in
 *   the server's (`sentAt`, `id`) order; held while its key is missing.
 * - `Acks`: the persisted seen-set and the batched `ack` frames, sent only after the
 *   handler returned.
 *
 * The `Messenger` wires them to the connection and routes frames; ephemeral `signal`s
 * (typing) go out only while connected and come in as events. After each (re)connect the
 * server replays the backlog before any live frame and then says `replayed` (an event
 * here), so nothing waits on a timer to keep the order.
 */
import type { ServerFrame, SignalName } from '@gossip/protocol';
import {
  download,
  downloadTo,
  type DownloadOptions,
  type FileSink,
} from '../attachments/download.js';
import { encodeAttachmentMessage, type AttachmentRef } from '../attachments/message.js';
import { uploadFile, type FileSource, type SendFileOptions } from '../attachments/upload.js';
import type { GossipClient } from '../gossip.js';
import { Acks } from './acks.js';
import { GatewayConnection, type GatewayConnectionOptions } from './connection.js';
import { DeliveryStates } from './delivery-states.js';
import { Emitter } from './emitter.js';
import { notify } from './hooks.js';
import { Inbox } from './inbox.js';
import type {
  MessageHandler,
  MessengerError,
  MessengerEvents,
  MessengerHooks,
  MessengerOptions,
  MessengerStats,
} from './messenger-types.js';
import { Outbox } from './outbox.js';
import { TokenBucket } from '@gossip/limits';
import { MemoryMessengerStore, type MessengerStore } from './store.js';
import { apiTokenSource } from './token-source.js';

/** The messenger's vocabulary lives in messenger-types.ts; importers keep this path. */
export type * from './messenger-types.js';

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
  private readonly hooks: MessengerHooks | undefined;
  private readonly rate: TokenBucket;
  private readonly states: DeliveryStates;
  private readonly outbox: Outbox;
  private readonly acks: Acks;
  private readonly inbox: Inbox;
  private started = false;
  private sendChain: Promise<unknown> = Promise.resolve();

  constructor(opts: MessengerOptions) {
    super();
    this.gossip = opts.gossip;
    this.store = opts.store ?? new MemoryMessengerStore();
    this.hooks = opts.hooks;
    this.rate = new TokenBucket(opts.ratePerSecond ?? 40, opts.rateBurst ?? 60);
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

    const emit = this.emit.bind(this) as Messenger['emit'];
    this.states = new DeliveryStates((ev) => emit('status', ev));
    this.outbox = new Outbox({
      connection: this.connection,
      store: this.store,
      rate: this.rate,
      states: this.states,
      stats: this.stats,
      hooks: this.hooks,
      maxInFlight: opts.maxInFlight ?? 64,
      keyAccepted: (frame) => opts.gossip.keyMessageAccepted(frame),
      refused: (frame, err) =>
        emit('error', {
          kind: 'send_failed',
          id: frame.id,
          to: frame.to,
          code: err.code,
          message: err.message,
        }),
    });
    this.acks = new Acks({
      connection: this.connection,
      store: this.store,
      rate: this.rate,
      stats: this.stats,
      hooks: this.hooks,
      seenLimit: opts.seenLimit ?? 5000,
      ackDelayMs: opts.ackDelayMs ?? 15,
    });
    this.inbox = new Inbox(
      {
        gossip: opts.gossip,
        acks: this.acks,
        stats: this.stats,
        hooks: this.hooks,
        emit,
        reorderWindowMs: opts.reorderWindowMs ?? 0,
        keyWaitMs: opts.keyWaitMs ?? 30_000,
        handlerRetryMs: opts.handlerRetryMs ?? 10_000,
      },
      opts.onMessage,
    );

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
    this.inbox.setHandler(handler);
  }

  /** Loads the seen-set and outbox, then connects. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.acks.load(await this.store.loadSeen());
    this.outbox.add(await this.store.loadOutbox(), false);
    this.inbox.start();
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
    await this.acks.stop();
    this.inbox.stop();
    await this.outbox.stop();
    await this.connection.close();
    this.states.rejectAll();
  }

  /**
   * Encrypts `text` for `to` and queues it (after a key message when one is needed).
   * Resolves with the message id once queued; follow it with `status` events or `whenState`.
   */
  send(to: string, text: string | Uint8Array): Promise<{ id: string }> {
    return this.queue(to, text);
  }

  /**
   * Encrypts and uploads a file for `to` (resuming after cuts), then queues the encrypted
   * message that carries its id, key and digest, like `send`. Resolves once that message
   * is queued; `onProgress` reports the upload.
   */
  async sendFile(
    to: string,
    file: FileSource,
    opts: SendFileOptions,
  ): Promise<{ id: string; attachment: AttachmentRef }> {
    await this.gossip.checkSendable(to);
    const uploaded = await uploadFile(this.gossip.api, file, [to], opts);
    const attachment: AttachmentRef = {
      ...uploaded,
      type:
        opts.type ?? (file instanceof Blob && file.type ? file.type : 'application/octet-stream'),
      name: opts.name,
    };
    if (opts.thumbnail) attachment.thumbnail = opts.thumbnail;
    const sent = await this.queue(to, encodeAttachmentMessage(attachment, opts.text), [
      uploaded.id,
    ]);
    return { id: sent.id, attachment };
  }

  /** Downloads and verifies the file a message carries; resolves only with a checked file. */
  download(attachment: AttachmentRef, opts?: DownloadOptions): Promise<Uint8Array> {
    return download(this.gossip.api, attachment, opts);
  }

  /** Like `download`, streaming into `sink`, which must keep nothing unless this resolves. */
  downloadTo(attachment: AttachmentRef, sink: FileSink, opts?: DownloadOptions): Promise<void> {
    return downloadTo(this.gossip.api, attachment, sink, opts);
  }

  private queue(
    to: string,
    text: string | Uint8Array,
    attachments?: string[],
  ): Promise<{ id: string }> {
    // One at a time: each call sees the key state the previous one left.
    const run = this.sendChain.then(async () => {
      const frames = await this.gossip.prepareSend(to, text, attachments);
      const msg = frames[frames.length - 1]!;
      this.outbox.add(frames);
      this.states.advance(msg.id, to, 'sending');
      this.outbox.pump();
      return { id: msg.id };
    });
    this.sendChain = run.catch(() => undefined);
    return run;
  }

  /** Resolves when message `id` reaches `state` (`accepted` or `delivered`); rejects if it fails. */
  whenState(id: string, state: 'accepted' | 'delivered', timeoutMs = 30_000): Promise<void> {
    return this.states.whenState(id, state, timeoutMs);
  }

  /** Sends an ephemeral signal (typing...) if connected; returns whether it was written. */
  signal(to: string, signal: SignalName, body?: string): boolean {
    if (!this.rate.take()) return false;
    return this.connection.trySend(
      body === undefined ? { type: 'signal', to, signal } : { type: 'signal', to, signal, body },
    );
  }

  /** Sends not yet accepted. */
  get pendingSends(): number {
    return this.outbox.size;
  }

  private onOpen(): void {
    this.stats.connections++;
    // A new connection: everything not yet accepted goes again, same ids, same order.
    this.outbox.pump();
    this.acks.soon();
    // v2: a long-running client rotates its signed prekey and tops up on schedule too.
    this.gossip.v2.maintainIfDue();
  }

  private onFrame(f: ServerFrame): void {
    switch (f.type) {
      case 'accepted':
        void this.outbox.accepted(f.id);
        return;
      case 'delivered':
        void this.outbox.receipt(f.id, f.to);
        return;
      case 'deliver':
        this.inbox.deliver(f);
        return;
      case 'contact':
        this.inbox.contact(f);
        return;
      case 'replayed': {
        const epoch = this.connection.epoch;
        notify(this.hooks, 'onReplayed', epoch);
        this.emit('replayed', { epoch });
        return;
      }
      case 'signal': {
        const ev: MessengerEvents['signal'] = { from: f.from, signal: f.signal };
        if (f.body !== undefined) ev.body = f.body;
        this.emit('signal', ev);
        return;
      }
      case 'error': {
        if (this.outbox.error(f)) return;
        if (this.acks.retry(f.ref, f.code)) return;
        const ev: MessengerError = { kind: 'server', code: f.code, message: f.message };
        if (f.ref !== undefined) ev.ref = f.ref;
        this.emit('error', ev);
        return;
      }
      case 'drain':
        this.stats.drains++;
        // Acks still count on a draining gateway: send what is ready before leaving.
        void this.acks.flush();
        return;
      case 'hello':
      case 'pong':
      case 'authenticated':
        return;
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
