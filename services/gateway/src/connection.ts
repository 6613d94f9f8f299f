/**
 * One client connection: the socket itself (ws constructs this class for every upgrade,
 * see the server's `WebSocket` option) with its own state as plain fields and its own
 * backpressure. The socket's listeners are shared by all sockets and hand the socket's
 * events to the {@link ConnectionEnv}'s handlers, so an idle connection costs no objects
 * or closures beyond ws's own; the rate limiter and the pending map come with the first
 * frame.
 */
import WebSocket, { type RawData } from 'ws';
import {
  CLOSE_CODES,
  encodeFrame,
  errorFrame,
  type ErrorCode,
  type ServerFrame,
} from '@gossip/protocol';
import type { Logger } from '@gossip/servicekit';
import type { GatewayMetrics } from './metrics.js';
import { TokenBucket } from './ratelimit.js';
import { ReplayHold, type HeldFrame, type PushFrame } from './replay-hold.js';

/** The limits every connection applies (from the gateway's config). */
export interface ConnectionLimits {
  highWaterBytes: number;
  maxBufferedBytes: number;
  ratePerSecond: number;
  rateBurst: number;
  rateViolationsMax: number;
  /** Most live frames held back during a connection's first replay. */
  replayHoldMax: number;
}

/** Where a connection's socket events go (the frame router and the registry). */
export interface ConnectionHandlers {
  onFrame(conn: Connection, data: RawData, isBinary: boolean): void;
  onClose(conn: Connection, code: number): void;
  /** A droppable push was skipped for backpressure: the connection needs a drain later. */
  onStarved(conn: Connection): void;
}

/** What all connections of one gateway share: limits, metrics, log and handlers. */
export interface ConnectionEnv {
  readonly limits: ConnectionLimits;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  readonly handlers: ConnectionHandlers;
}

export class Connection extends WebSocket {
  id = '';
  user = '';
  /** The client address it came from (see `GATEWAY_TRUST_PROXY`), for the per-address cap. */
  address = '';
  /** Set when the upgrade is accepted (see {@link attach}). */
  env: ConnectionEnv | undefined = undefined;
  /** Created with the first frame. */
  bucket: TokenBucket | undefined = undefined;
  /** Sends waiting for `stored`: id -> arrival time (ms, monotonic clock). Created with the first. */
  pending: Map<string, number> | undefined = undefined;
  /** Last `at` stamped on a send: keeps this sender's messages strictly ordered. */
  lastAt = 0;
  alive = true;
  /** When this connection last asked for a replay after backpressure (see `Drains`). */
  lastReplayAt = 0;
  /** When its replay in flight was asked for or last sent a frame (see `Drains`). */
  replayProgressAt = 0;
  /** Another replay is wanted once the one in flight has ended (see `Drains`). */
  replayAgain = false;
  /** Where that one is to start (`sentAt`, ms); undefined: from the start. */
  againFrom: number | undefined = undefined;
  /** Where the replay in flight started (as `againFrom`), to ask it again if it is lost. */
  inflightFrom: number | undefined = undefined;
  /** The earliest `sentAt` of the messages skipped for backpressure since the last drain. */
  missedFrom: number | undefined = undefined;
  /** Live pushes held back until the first replay is over; undefined after (or when full). */
  hold: ReplayHold | undefined = undefined;
  /** The client got `replayed` (it does once per connection). */
  replayed = false;
  /** Frames refused by the rate limit since the last pause (see `onRateLimited`). */
  violations = 0;
  /** When the last one was refused (ms). */
  lastViolationAt = 0;
  /** The account id and session of the connection's token (see `SessionGuard`). */
  uid = '';
  sid = '';
  /** Closes the connection when its token expires; reset by an `auth` frame. */
  expiry: NodeJS.Timeout | undefined = undefined;

  /** Wires an accepted socket to its gateway's shared state and listeners. */
  attach(env: ConnectionEnv): void {
    this.env = env;
    // Live pushes wait until the replay the gateway asks for next has sent the backlog.
    this.hold = new ReplayHold(env.limits.replayHoldMax);
    this.on('message', onConnMessage);
    this.on('pong', onConnPong);
    this.on('error', onConnError);
    this.on('close', onConnClose);
  }

  /**
   * Writes a frame unless the socket is too far behind. Droppable frames (pushes the engine
   * will redeliver) are skipped over the high-water mark; past the hard limit the socket is
   * closed with 1013 (try again later) so memory never grows without bound.
   */
  push(frame: ServerFrame, droppable = false): boolean {
    const env = this.env;
    if (!env || this.readyState !== this.OPEN) return false;
    if (this.bufferedAmount > env.limits.maxBufferedBytes) {
      env.metrics.slowClosed.inc();
      env.log.warn({ conn: this.id, buffered: this.bufferedAmount }, 'closing slow socket');
      this.close(1013, 'too slow');
      return false;
    }
    // Once a delivery was skipped, the later ones are too until the drain that resumes
    // this connection is asked for: one written after the gap would reach the client ahead
    // of the missed ones (that drain replays them all from `missedFrom`).
    const afterGap = frame.type === 'deliver' && this.missedFrom !== undefined;
    if (droppable && (afterGap || this.bufferedAmount > env.limits.highWaterBytes)) {
      env.metrics.backpressureSkipped.inc();
      // The drain that resumes this connection starts at the first message it missed.
      if (frame.type === 'deliver') {
        this.missedFrom = Math.min(this.missedFrom ?? frame.sentAt, frame.sentAt);
      }
      env.handlers.onStarved(this);
      return false;
    }
    this.send(encodeFrame(frame));
    return true;
  }

  /**
   * A frame pushed to this connection's user (a live delivery, receipt, signal or contact
   * event): held back while the first replay runs, else written (and counted).
   */
  deliver(push: HeldFrame): void {
    if (this.hold?.add(push)) return;
    if (this.hold) {
      // Full: what is held goes out now, in order, and the rest is written as it comes.
      this.env?.log.warn({ conn: this.id, held: this.hold.size }, 'replay hold full; releasing');
      this.releaseHold();
    }
    this.write(push);
  }

  /** A frame of a replay of this connection's backlog: written now, never held. */
  deliverReplayed(frame: PushFrame, droppable: boolean): void {
    this.hold?.sentByReplay(frame);
    this.write({ frame, live: false, droppable });
  }

  /**
   * Holds live pushes from now until the drain about to be asked for is over (as for the
   * first replay), so a connection resumed after backpressure gets the missed messages
   * before anything newer.
   */
  holdLive(): void {
    this.hold ??= new ReplayHold(this.env?.limits.replayHoldMax ?? 0);
  }

  /**
   * A replay is over (or given up on): the client gets `replayed` after the first one only
   * (it is told once per connection), then the live frames held meanwhile.
   */
  finishReplay(): void {
    if (!this.replayed) {
      this.replayed = true;
      this.push({ type: 'replayed' });
    }
    this.releaseHold();
  }

  private releaseHold(): void {
    const held = this.hold?.release() ?? [];
    this.hold = undefined;
    for (const h of held) this.write(h);
  }

  /** Writes a push and counts it. */
  private write({ frame, live, droppable }: HeldFrame): void {
    if (!this.push(frame, droppable) || !this.env) return;
    const { metrics } = this.env;
    metrics.pushed.inc({ type: frame.type });
    if (frame.type === 'deliver') {
      metrics.delivered.inc();
      if (live) metrics.deliverLatency.observe((Date.now() - frame.sentAt) / 1000);
    }
  }

  /**
   * Answers every send still waiting for its `stored` with `unavailable`, so the client sends
   * it again now (same id: the engine stores one copy and answers the resend). For when the
   * RabbitMQ link came back: the `stored` replies published meanwhile went to the old
   * (exclusive) queue, or nowhere, and a client whose socket stayed open would wait forever.
   * Returns how many.
   */
  retryPendingSends(): number {
    const pending = this.pending;
    if (!pending || pending.size === 0) return 0;
    const ids = [...pending.keys()];
    pending.clear();
    for (const id of ids) this.pushError('unavailable', 'Not confirmed; send it again.', id);
    return ids.length;
  }

  /** Writes an error frame (counted by code). */
  pushError(code: ErrorCode, message?: string, ref?: string): void {
    this.env?.metrics.errors.inc({ code });
    this.push(errorFrame(code, message, ref));
  }

  /** Takes a rate-limit token for one incoming frame. */
  takeToken(): boolean {
    const limits = this.env?.limits;
    if (!limits) return false;
    this.bucket ??= new TokenBucket(limits.ratePerSecond, limits.rateBurst);
    return this.bucket.take();
  }

  /**
   * Counts a frame refused by the rate limit. Returns false, after closing the connection
   * with `CLOSE_CODES.rateLimited`, once `rateViolationsMax` of them came with no pause long
   * enough to refill the bucket in between: a client that ignores `rate_limited` is not
   * served forever.
   */
  rateViolation(): boolean {
    const env = this.env;
    if (!env) return false;
    const now = Date.now();
    const refillMs = (env.limits.rateBurst / env.limits.ratePerSecond) * 1000;
    if (now - this.lastViolationAt > refillMs) this.violations = 0;
    this.lastViolationAt = now;
    this.violations += 1;
    if (this.violations < env.limits.rateViolationsMax) return true;
    env.metrics.rateLimitClosed.inc();
    env.log.info({ conn: this.id, user: this.user }, 'closing a connection over its rate limit');
    this.close(CLOSE_CODES.rateLimited, 'rate limit exceeded');
    return false;
  }

  /**
   * Closes the connection with `CLOSE_CODES.tokenExpired` when its token expires (`exp`,
   * seconds), unless an `auth` frame re-arms it first.
   */
  armExpiry(exp: number): void {
    clearTimeout(this.expiry);
    // setTimeout holds at most 2^31-1 ms; tokens live minutes, so this only guards bad input.
    const ms = Math.min(Math.max(0, exp * 1000 - Date.now()), 2 ** 31 - 1);
    this.expiry = setTimeout(() => {
      this.env?.metrics.sessionsClosed.inc({ reason: 'expired' });
      this.env?.log.info({ conn: this.id, user: this.user }, 'token expired; closing');
      this.close(CLOSE_CODES.tokenExpired, 'token expired');
    }, ms);
    this.expiry.unref();
  }
}

// The listeners every connection shares (ws calls them with the socket, a Connection, as `this`).
function onConnMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  const conn = this as Connection;
  conn.env?.handlers.onFrame(conn, data, isBinary);
}
function onConnPong(this: WebSocket): void {
  (this as Connection).alive = true;
}
function onConnError(this: WebSocket, err: Error): void {
  const conn = this as Connection;
  conn.env?.log.info({ conn: conn.id, err: err.message }, 'socket error');
}
function onConnClose(this: WebSocket, code: number): void {
  const conn = this as Connection;
  clearTimeout(conn.expiry);
  conn.env?.handlers.onClose(conn, code);
}
