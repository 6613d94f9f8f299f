/**
 * `GatewayConnection`: one logical connection to the gateways that survives the physical
 * ones. It authenticates with the access token (refreshed through the api when the
 * gateway refuses it), treats the `hello` frame as "open", reconnects with exponential
 * backoff and jitter (rotating through the gateway URLs it was given), follows `drain`
 * (reconnect after `reconnectAfterMs`), and keeps the link honest with `ping` frames: no
 * frame within the pong timeout means a dead link, which is dropped and replaced. Before
 * the connection's token expires (the gateway says when, in `hello` and `authenticated`)
 * it sends an `auth` frame with a fresh token, so the gateway keeps the socket open; a
 * socket closed for an expired token (4401) reconnects with a refreshed one, and one closed
 * because its session was revoked (4403) reconnects only if the session can be refreshed.
 *
 * It holds no message state: the `Messenger` on top resends, dedupes and acks.
 */
import {
  CLOSE_CODES,
  encodeFrame,
  parseServerFrame,
  WS_SUBPROTOCOL,
  type ClientFrame,
} from '@gossip/protocol';
import { backoffDelay } from '@gossip/limits';
import { NotLoggedInError } from '../errors.js';
import { checkTransportUrl } from '../transport-security.js';
import { Emitter } from './emitter.js';
import {
  OPEN,
  queryTokenFactory,
  refusedCloseCode,
  type SocketCloseEvent,
  type WebSocketFactory,
  type WebSocketLike,
} from './socket.js';
import type {
  ConnectionEvents,
  GatewayConnectionOptions,
  TransportState,
} from './connection-types.js';

export type * from './connection-types.js';

/** A reconnecting, authenticated frame channel to the gateways. */
export class GatewayConnection extends Emitter<ConnectionEvents> {
  private readonly urls: readonly string[];
  private readonly factory: WebSocketFactory;
  private readonly random: () => number;
  private readonly o: Required<
    Pick<
      GatewayConnectionOptions,
      | 'backoffInitialMs'
      | 'backoffMaxMs'
      | 'pingIntervalMs'
      | 'pongTimeoutMs'
      | 'connectTimeoutMs'
      | 'reauthLeadMs'
    >
  >;
  private ws: WebSocketLike | undefined;
  private urlIndex = 0;
  private attempt = 0;
  private preOpenFailures = 0;
  private forceRefresh = false;
  private drainDelay: number | undefined;
  private physical = 0;
  private opened = 0;
  private isOpen = false;
  private stopped = true;
  private stateNow: TransportState = 'closed';
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private pongTimer: ReturnType<typeof setTimeout> | undefined;
  private reauthTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly opts: GatewayConnectionOptions) {
    super();
    this.urls = typeof opts.url === 'string' ? [opts.url] : [...opts.url];
    if (this.urls.length === 0) throw new RangeError('GatewayConnection needs a gateway URL');
    for (const u of this.urls) checkTransportUrl(u, opts.allowInsecure ?? false);
    this.factory = opts.webSocket ?? queryTokenFactory();
    this.random = opts.random ?? Math.random;
    this.o = {
      backoffInitialMs: opts.backoffInitialMs ?? 250,
      backoffMaxMs: opts.backoffMaxMs ?? 30_000,
      pingIntervalMs: opts.pingIntervalMs ?? 20_000,
      pongTimeoutMs: opts.pongTimeoutMs ?? 10_000,
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
      reauthLeadMs: opts.reauthLeadMs ?? 60_000,
    };
  }

  /** `connecting`, `open` (after `hello`) or `closed` (stopped). */
  get state(): TransportState {
    return this.stateNow;
  }

  /** Counts connections that reached `hello`; changes on every reconnect. */
  get epoch(): number {
    return this.opened;
  }

  /** The URL of the current (or last) physical connection. */
  get url(): string {
    return this.urls[this.urlIndex % this.urls.length] as string;
  }

  /** Starts connecting (no-op when already started). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.connect();
  }

  /** Writes a frame if the connection is open; returns whether it was written. */
  trySend(frame: ClientFrame): boolean {
    const ws = this.ws;
    if (!this.isOpen || !ws || ws.readyState !== OPEN) return false;
    try {
      ws.send(encodeFrame(frame));
      return true;
    } catch {
      return false;
    }
  }

  /** Drops the current physical connection and reconnects (for tests and "retry now"). */
  reconnectNow(): void {
    if (this.stopped) return;
    this.abandon(4000, 'reconnect requested');
  }

  /** Closes for good. */
  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    const ws = this.ws;
    this.teardown();
    this.physical++; // late events of the old socket are ignored
    try {
      ws?.close(1000, 'bye');
    } catch {
      // already closed
    }
    this.setState('closed');
  }

  // ---------------------------------------------------------------- internals

  private setState(s: TransportState): void {
    if (s === this.stateNow) return;
    this.stateNow = s;
    this.emit('state', s);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.setState('connecting');
    const url = this.url;
    let token: string;
    try {
      token = await this.opts.token.accessToken(this.forceRefresh);
      if (this.factory.credential === 'ticket') {
        if (!this.opts.token.wsTicket) throw new Error('this WebSocket factory needs tickets');
        token = await this.opts.token.wsTicket();
      }
    } catch (err) {
      if (err instanceof NotLoggedInError) {
        this.emit('error', { error: err, fatal: true });
        await this.close();
        return;
      }
      this.emit('error', { error: asError(err), fatal: false });
      this.scheduleReconnect();
      return;
    }
    if (this.stopped) return;
    this.forceRefresh = false;
    let ws: WebSocketLike;
    try {
      ws = this.factory(url, [WS_SUBPROTOCOL], token);
    } catch (err) {
      this.emit('error', { error: asError(err), fatal: false });
      this.scheduleReconnect();
      return;
    }
    const id = ++this.physical;
    this.ws = ws;
    this.isOpen = false;
    this.connectTimer = setTimeout(() => {
      if (id === this.physical && !this.isOpen) this.abandon(4008, 'no hello in time');
    }, this.o.connectTimeoutMs);
    ws.onopen = () => undefined;
    ws.onerror = () => undefined; // a close event follows
    ws.onclose = (ev: SocketCloseEvent) => {
      if (id === this.physical) this.onClosed(ev.code, String(ev.reason ?? ''));
    };
    ws.onmessage = (ev) => {
      if (id === this.physical) this.onMessage(ev.data);
    };
  }

  private onMessage(data: unknown): void {
    clearTimeout(this.pongTimer);
    this.pongTimer = undefined;
    const raw =
      typeof data === 'string' || data instanceof ArrayBuffer || data instanceof Uint8Array
        ? data
        : String(data);
    const parsed = parseServerFrame(raw);
    if (!parsed.ok) {
      this.emit('error', {
        error: new Error(`the gateway sent a bad frame: ${parsed.error.message}`),
        fatal: false,
      });
      return;
    }
    const frame = parsed.frame;
    if (frame.type === 'hello') {
      if (this.opts.expectedUsername && frame.username !== this.opts.expectedUsername) {
        this.emit('error', {
          error: new Error(
            `the gateway authenticated us as ${frame.username}, not ${this.opts.expectedUsername}`,
          ),
          fatal: true,
        });
        void this.close();
        return;
      }
      clearTimeout(this.connectTimer);
      this.isOpen = true;
      this.attempt = 0;
      this.preOpenFailures = 0;
      this.drainDelay = undefined;
      this.opened++;
      this.startKeepalive();
      this.scheduleReauth(frame.tokenExpiresInMs);
      this.setState('open');
      this.emit('open', { url: this.url, username: frame.username, epoch: this.opened });
    }
    if (frame.type === 'authenticated') this.scheduleReauth(frame.tokenExpiresInMs);
    if (frame.type === 'drain') {
      this.drainDelay = frame.reconnectAfterMs;
      // Listeners (the Messenger's ack flush) see the frame before the socket goes.
      this.emit('frame', frame);
      this.abandon(1000, 'draining');
      return;
    }
    this.emit('frame', frame);
  }

  private startKeepalive(): void {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      if (this.pongTimer !== undefined) return;
      if (!this.trySend({ type: 'ping', ts: Date.now() })) return;
      this.pongTimer = setTimeout(() => {
        this.emit('error', { error: new Error('no answer to ping: reconnecting'), fatal: false });
        this.abandon(4000, 'keepalive timeout');
      }, this.o.pongTimeoutMs);
    }, this.o.pingIntervalMs);
  }

  /**
   * Arms the in-band re-authentication: shortly before the gateway would close the socket
   * for an expired token, fetch a fresh one (refreshing the session) and send `auth`.
   */
  private scheduleReauth(expiresInMs: number | undefined): void {
    clearTimeout(this.reauthTimer);
    this.reauthTimer = undefined;
    if (expiresInMs === undefined) return; // an older gateway: it never closes for expiry
    const lead = Math.min(this.o.reauthLeadMs, expiresInMs / 2);
    const epoch = this.physical;
    this.reauthTimer = setTimeout(
      () => {
        this.reauthTimer = undefined;
        void this.opts.token.accessToken(true).then(
          (token) => {
            if (epoch === this.physical) this.trySend({ type: 'auth', token });
          },
          (err: unknown) => {
            // Not logged in any more: the gateway closes the socket at expiry; the
            // reconnect that follows reports it.
            this.emit('error', { error: asError(err), fatal: false });
          },
        );
      },
      Math.max(0, expiresInMs - lead),
    );
  }

  private teardown(): void {
    clearTimeout(this.connectTimer);
    clearTimeout(this.pongTimer);
    clearInterval(this.pingTimer);
    clearTimeout(this.reauthTimer);
    this.connectTimer = this.pongTimer = this.pingTimer = this.reauthTimer = undefined;
    this.isOpen = false;
    this.ws = undefined;
  }

  /** Gives up on the current socket now (without waiting for a close handshake). */
  private abandon(code: number, reason: string): void {
    const ws = this.ws;
    this.physical++; // its late events are ignored
    try {
      const t = (ws as { terminate?: () => void } | undefined)?.terminate;
      if (code !== 1000 && typeof t === 'function') t.call(ws);
      else ws?.close(code === 1000 ? 1000 : 4000, reason);
    } catch {
      // already gone
    }
    this.onClosed(code, reason);
  }

  private onClosed(code: number, reason: string): void {
    const wasOpen = this.isOpen;
    this.teardown();
    if (!wasOpen) {
      this.preOpenFailures++;
      // A refused token (Node reports 4401), or repeated failures before `hello` (browsers
      // cannot see the status): refresh the token before the next attempt.
      if (code === refusedCloseCode(401) || this.preOpenFailures >= 2) this.forceRefresh = true;
    }
    // Closed for an expired token or a revoked session: only a refreshed token can get
    // back in (a revoked session's refresh fails, which ends this connection for good).
    if (code === CLOSE_CODES.tokenExpired || code === CLOSE_CODES.sessionRevoked) {
      this.forceRefresh = true;
    }
    this.emit('closed', { url: this.url, code, reason, wasOpen });
    if (this.stopped) return;
    this.setState('connecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    clearTimeout(this.reconnectTimer);
    this.urlIndex++;
    let delay: number;
    if (this.drainDelay !== undefined) {
      delay = this.drainDelay + this.random() * Math.min(1000, this.drainDelay / 2);
      this.drainDelay = undefined;
    } else {
      this.attempt++;
      // "Equal jitter": at least half the cap, so clients spread out but never hammer.
      delay = backoffDelay(this.attempt - 1, {
        initialMs: this.o.backoffInitialMs,
        maxMs: this.o.backoffMaxMs,
        jitter: 'equal',
        random: this.random,
      });
    }
    delay = Math.round(delay);
    this.emit('reconnecting', { delayMs: delay, attempt: this.attempt, url: this.url });
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
