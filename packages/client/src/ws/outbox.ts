/**
 * The outgoing half of the `Messenger`: every `send` frame stays here until the server
 * `accepted` it, persisted through the `MessengerStore`, written in order within the
 * in-flight and rate limits, and written again with the SAME id on every new connection
 * and after a retryable error (the server stores one copy). An accepted key frame is
 * reported (`keyAccepted`) so later messages stop carrying the key.
 */
import type { ErrorCode, ErrorFrame, SendFrame } from '@gossip/protocol';
import type { GatewayConnection } from './connection.js';
import type { DeliveryStates } from './delivery-states.js';
import { notify } from './hooks.js';
import type { MessengerHooks, MessengerStats } from './messenger-types.js';
import type { TokenBucket } from '@gossip/limits';
import { BoundedIdSet, type MessengerStore } from './store.js';

/** Error codes after which a send is written again (later), not given up. */
export const RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'unavailable',
  'draining',
  'rate_limited',
  'internal',
]);

interface Outgoing {
  frame: SendFrame;
  /** The connection epoch it was last written on (0: not yet). */
  writtenOn: number;
  /** Do not (re)write before this (after a retryable error). */
  notBefore: number;
}

/** What the outbox works with. */
export interface OutboxDeps {
  connection: Pick<GatewayConnection, 'state' | 'epoch' | 'trySend'>;
  store: Pick<MessengerStore, 'saveOutbox'>;
  rate: TokenBucket;
  states: DeliveryStates;
  stats: MessengerStats;
  hooks: MessengerHooks | undefined;
  /** Sends written but not yet accepted, at most. */
  maxInFlight: number;
  /** A key frame was stored: later messages need not carry the key. */
  keyAccepted(frame: SendFrame): Promise<void>;
  /** The server refused `frame` for good (it has left the outbox). */
  refused(frame: SendFrame, err: ErrorFrame): void;
}

/** Sends not yet accepted, in send order. */
export class Outbox {
  private entries: Outgoing[] = [];
  private readonly keyFrameIds = new BoundedIdSet(1000);
  private timer: ReturnType<typeof setTimeout> | undefined;
  private saving: Promise<void> = Promise.resolve();

  constructor(private readonly d: OutboxDeps) {}

  /** Sends not yet accepted. */
  get size(): number {
    return this.entries.length;
  }

  /** Queues frames (in order) and persists the outbox; `pump` writes them. */
  add(frames: readonly SendFrame[], persist = true): void {
    for (const frame of frames) {
      this.entries.push({ frame, writtenOn: 0, notBefore: 0 });
      if (frame.kind === 'key') this.keyFrameIds.add(frame.id);
    }
    if (persist) this.save();
  }

  /** Writes what the connection, the in-flight cap and the rate allow, in order. */
  pump(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const epoch = this.d.connection.epoch;
    if (this.d.connection.state !== 'open') return;
    let inFlight = this.entries.filter((o) => o.writtenOn === epoch).length;
    const now = Date.now();
    for (const o of this.entries) {
      if (o.writtenOn === epoch) continue;
      // In order: a frame waiting out a retryable error holds back the ones after it.
      if (o.notBefore > now) return this.arm(o.notBefore - now);
      if (inFlight >= this.d.maxInFlight) return;
      if (!this.d.rate.take()) return this.arm(this.d.rate.msUntilNext());
      if (!this.d.connection.trySend(o.frame)) return;
      const resend = o.writtenOn !== 0;
      if (resend) this.d.stats.resent++;
      o.writtenOn = epoch;
      this.d.stats.written++;
      inFlight++;
      notify(this.d.hooks, 'onSent', o.frame, resend);
    }
  }

  /** The server stored send `id` (a resend's second `accepted` is ignored). */
  async accepted(id: string): Promise<void> {
    const i = this.entries.findIndex((o) => o.frame.id === id);
    if (i < 0) return;
    const [o] = this.entries.splice(i, 1) as [Outgoing];
    this.save();
    notify(this.d.hooks, 'onAccepted', id, o.frame);
    if (o.frame.kind === 'key') {
      try {
        await this.d.keyAccepted(o.frame);
      } catch {
        // Unconfirmed keys are simply sent again with the next message.
      }
    } else {
      this.d.states.advance(id, o.frame.to, 'accepted');
    }
    this.pump();
  }

  /** A receipt for `id`: implies it was stored, even if the `accepted` was lost on the way. */
  async receipt(id: string, to: string): Promise<void> {
    if (this.entries.some((o) => o.frame.id === id)) await this.accepted(id);
    if (this.keyFrameIds.has(id)) return;
    if (this.d.states.advance(id, to, 'delivered')) notify(this.d.hooks, 'onDelivered', id, to);
  }

  /** An error frame about send `err.ref`; returns false when it is not one of ours. */
  error(err: ErrorFrame): boolean {
    const o = err.ref ? this.entries.find((x) => x.frame.id === err.ref) : undefined;
    if (!o) return false;
    if (RETRYABLE.has(err.code)) {
      o.writtenOn = 0;
      o.notBefore = Date.now() + (err.code === 'rate_limited' ? 1000 : 500);
      this.pump();
      return true;
    }
    this.entries.splice(this.entries.indexOf(o), 1);
    this.save();
    if (o.frame.kind === 'message')
      this.d.states.advance(o.frame.id, o.frame.to, 'failed', err.code);
    notify(this.d.hooks, 'onFailed', o.frame.id, o.frame, err.code);
    this.d.refused(o.frame, err);
    this.pump();
    return true;
  }

  /** Stops the retry timer and waits for the last save. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    await this.saving;
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => this.pump(), ms);
  }

  private save(): void {
    const frames = this.entries.map((o) => o.frame);
    this.saving = this.saving.then(() => this.d.store.saveOutbox(frames)).catch(() => undefined);
  }
}
