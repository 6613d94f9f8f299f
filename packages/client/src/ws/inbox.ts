/**
 * The incoming half of the `Messenger`: deliveries are deduped by id (the seen-set in
 * `Acks`, and what is already queued), opened and verified by the `GossipClient`, and
 * handed to the application's handler once each, in each sender's order (`sentAt`, `id`:
 * the order the server sends them in). A message is acked (through `Acks`) only after the
 * handler returned; one whose handler threw keeps its place and is presented again on
 * redelivery (or after `handlerRetryMs`). Key messages and contact events go first,
 * outside the order, and are acked once stored; a message whose key has not arrived is
 * held, unacked, and holds back its sender's later messages for up to `keyWaitMs`.
 */
import { CryptoError } from '@gossip/crypto';
import type { ContactFrame, DeliverFrame } from '@gossip/protocol';
import { DuplicateMessageError, KeyChangedError, MissingKeyError } from '../errors.js';
import type { GossipClient, OpenedDelivery } from '../gossip.js';
import type { Acks } from './acks.js';
import { notify } from './hooks.js';
import type {
  ChatMessage,
  EmitMessengerEvent,
  MessageHandler,
  MessengerHooks,
  MessengerStats,
} from './messenger-types.js';

type EntryState = 'waiting' | 'processing' | 'held' | 'parked' | 'failed';

interface Entry {
  frame: DeliverFrame;
  arrivedAt: number;
  state: EntryState;
  /** held: until when it blocks its sender; failed: when to retry. */
  until: number;
  /**
   * What `openDeliver` made of it, kept for a retry after the handler threw: a v2 message
   * can be decrypted once only (its message key is deleted as it is used).
   */
  opened?: OpenedDelivery;
}

/** What the inbox works with. */
export interface InboxDeps {
  gossip: Pick<GossipClient, 'openDeliver' | 'openContactEvent' | 'messageHandled'>;
  acks: Acks;
  stats: MessengerStats;
  hooks: MessengerHooks | undefined;
  /** Where `held`, `contact` and `error` events go. */
  emit: EmitMessengerEvent;
  reorderWindowMs: number;
  keyWaitMs: number;
  handlerRetryMs: number;
}

const cmp = (a: DeliverFrame, b: DeliverFrame): number =>
  a.sentAt - b.sentAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Deliveries on their way to the application's handler. */
export class Inbox {
  private handler: MessageHandler | undefined;
  private started = false;
  /** Per sender, in (`sentAt`, `id`) order. */
  private readonly queues = new Map<string, Entry[]>();
  private readonly entries = new Map<string, Entry>();
  /** Key messages and contact events: handled before messages, outside the order. */
  private readonly priority: Array<DeliverFrame | ContactFrame> = [];
  private readonly priorityIds = new Set<string>();
  private pumping = false;
  private pumpAgain = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Infinity;

  constructor(
    private readonly d: InboxDeps,
    handler: MessageHandler | undefined,
  ) {
    this.handler = handler;
  }

  /** Sets the message handler (messages wait, unacked, until there is one). */
  setHandler(handler: MessageHandler): void {
    this.handler = handler;
    this.kick();
  }

  /** Starts presenting (the seen-set is loaded). */
  start(): void {
    this.started = true;
    this.kick();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  /** A `deliver` frame. */
  deliver(f: DeliverFrame): void {
    this.d.stats.deliveries++;
    notify(this.d.hooks, 'onReceived', f);
    if (f.kind === 'key') return this.addPriority(f);
    if (this.d.acks.isSeen(f.id)) {
      // Handled before, but the ack was lost: ack again, do not show again.
      this.duplicate(f);
      this.d.acks.add(f.id);
      return;
    }
    const known = this.entries.get(f.id);
    if (known) {
      this.duplicate(f);
      if (known.state === 'failed') {
        // The redelivery of a message whose handler threw: present it again.
        known.state = 'waiting';
        known.arrivedAt = Date.now();
        this.kick();
      }
      return;
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

  /** A `contact` frame. */
  contact(f: ContactFrame): void {
    this.d.stats.deliveries++;
    notify(this.d.hooks, 'onReceived', f);
    this.addPriority(f);
  }

  private duplicate(f: DeliverFrame | ContactFrame): void {
    this.d.stats.duplicates++;
    notify(this.d.hooks, 'onDuplicate', f.id, f);
  }

  private addPriority(f: DeliverFrame | ContactFrame): void {
    const seen = this.d.acks.isSeen(f.id);
    if (seen || this.priorityIds.has(f.id)) {
      this.duplicate(f);
      if (seen) this.d.acks.add(f.id);
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
        if (next.waitMs !== undefined) this.arm(next.waitMs);
        if (!this.pumpAgain) break;
      }
    } finally {
      this.pumping = false;
    }
  }

  private arm(ms: number): void {
    const at = Date.now() + ms;
    if (this.timer !== undefined && this.timerAt <= at) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.kick();
    }, ms);
  }

  /** The next message to present: the earliest-sent eligible head over all senders. */
  private nextEligible(): { entry?: Entry; waitMs?: number } {
    if (!this.handler) return {};
    const now = Date.now();
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
          this.d.emit('error', {
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
        const ready = e.arrivedAt + this.d.reorderWindowMs;
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
    let opened = e.opened;
    if (!opened) {
      try {
        opened = await this.d.gossip.openDeliver(f);
      } catch (err) {
        this.notOpened(e, err);
        return;
      }
      e.opened = opened;
    }
    if (opened.kind === 'key') {
      // Not reached (keys take the priority path), but never show a key.
      this.remove(e);
      this.d.acks.handled(f.id);
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
      version: opened.version,
      ciphertext: f.body,
    };
    if (opened.skipped !== undefined) msg.skipped = opened.skipped;
    if (opened.attachment) msg.attachment = opened.attachment;
    try {
      await handler(msg);
    } catch (err) {
      e.state = 'failed';
      e.until = Date.now() + this.d.handlerRetryMs;
      this.d.emit('error', { kind: 'handler_failed', id: f.id, from: f.from, error: err });
      return;
    }
    this.d.stats.presented++;
    // v2: forget the message key kept for a redelivery after a crash (a failure leaves it
    // to the bounds), then ack.
    await this.d.gossip.messageHandled(opened).catch(() => undefined);
    this.remove(e);
    this.d.acks.handled(f.id);
    notify(this.d.hooks, 'onShown', msg);
  }

  /** A message `openDeliver` threw for. */
  private notOpened(e: Entry, err: unknown): void {
    const f = e.frame;
    if (err instanceof MissingKeyError && err.what === 'conversation') {
      e.state = 'held';
      e.until = Date.now() + this.d.keyWaitMs;
      this.d.emit('held', { id: f.id, from: f.from });
      return;
    }
    if (
      err instanceof DuplicateMessageError ||
      (err instanceof CryptoError && err.code === 'replayed')
    ) {
      // v2: decrypted (and handed over) before, the ack was lost; or a replay: ack, drop.
      this.remove(e);
      this.duplicate(f);
      this.d.acks.handled(f.id);
      return;
    }
    if (err instanceof CryptoError && err.code === 'gap_too_large') {
      this.remove(e);
      this.d.acks.handled(f.id);
      this.d.emit('error', { kind: 'gap', id: f.id, from: f.from, error: err });
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
    e.until = Date.now() + this.d.handlerRetryMs;
    this.failed(f.id, f.from, err);
  }

  private async handlePriority(f: DeliverFrame | ContactFrame): Promise<void> {
    if (this.d.acks.isSeen(f.id)) {
      this.d.acks.add(f.id);
      return;
    }
    try {
      if (f.type === 'deliver') {
        await this.d.gossip.openDeliver(f);
        this.d.acks.handled(f.id);
        this.release(f.from);
      } else {
        const ev = await this.d.gossip.openContactEvent(f);
        this.d.acks.handled(f.id);
        if (ev.event === 'key-changed' && 'error' in ev && ev.error) {
          this.d.emit('error', { kind: 'key_changed', id: f.id, from: f.from, error: ev.error });
        }
        this.d.emit('contact', { ...ev, id: f.id, at: f.at });
        if ('keyId' in ev && ev.keyId) this.release(f.from);
      }
    } catch (err) {
      this.failed(f.id, f.from, err);
    }
  }

  /** Classifies a delivery that could not be opened. */
  private failed(id: string, from: string, err: unknown): void {
    if (err instanceof KeyChangedError) {
      this.d.emit('error', { kind: 'key_changed', id, from, error: err });
    } else if (err instanceof CryptoError) {
      // Will never open (tampered, forged, wrong recipient): ack so it stops coming back.
      this.d.acks.handled(id);
      this.d.emit('error', { kind: 'undecryptable', id, from, error: err });
    } else {
      this.d.emit('error', {
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
}
