/**
 * The chaos suite's accounts and clients: each user's session with the api (log in once,
 * refresh on every (re)connect) and a model of a careful SDK on the wire, reporting every
 * step to the {@link Tracker}.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import {
  API_PATHS,
  MAX_ACK_IDS,
  newMessageId,
  WS_SUBPROTOCOL,
  type ErrorCode,
  type SendFrame,
  type ServerFrame,
  type Session,
} from '@gossip/protocol';
import type { Tracker } from './tracker.js';

const RETRYABLE = new Set<ErrorCode>(['unavailable', 'draining', 'rate_limited', 'internal']);

class BoundedIds {
  private readonly ids = new Set<string>();
  constructor(private readonly limit: number) {}
  has(id: string): boolean {
    return this.ids.has(id);
  }
  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > this.limit) this.ids.delete(this.ids.values().next().value as string);
  }
}

// ---------------------------------------------------------------- accounts (the api)

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`HTTP ${status}: ${body.slice(0, 200)}`);
  }
}

export async function apiCall<T>(
  base: string,
  path: string,
  body: unknown,
  token?: string,
): Promise<T | undefined> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(base + path, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  if (!res.ok) throw new HttpError(res.status, text);
  return text ? (JSON.parse(text) as T) : undefined;
}

/** One user's session with the api: log in once, refresh on every (re)connect. */
export class Account {
  private refreshToken: string | undefined;
  stopped = false;

  constructor(
    readonly username: string,
    readonly password: string,
    private readonly apiUrl: () => string,
    private readonly tracker: Tracker,
  ) {}

  adopt(s: Session): void {
    this.refreshToken = s.refreshToken;
  }

  /** A fresh access token from the api, retried (with backoff) until the api answers. */
  async token(): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      if (this.stopped) throw new Error('stopped');
      try {
        const s = this.refreshToken
          ? await apiCall<Session>(this.apiUrl(), API_PATHS.refresh, {
              refreshToken: this.refreshToken,
            })
          : await apiCall<Session>(this.apiUrl(), API_PATHS.login, {
              username: this.username,
              password: this.password,
            });
        this.refreshToken = s!.refreshToken;
        return s!.accessToken;
      } catch (err) {
        if (err instanceof HttpError && err.status === 401 && this.refreshToken) {
          // A refresh token is single use: one consumed by a request whose answer never
          // came back (the api was killed) is spent. Log in again.
          this.refreshToken = undefined;
          this.tracker.phase.relogins++;
          continue;
        }
        this.tracker.phase.tokenRetries++;
        await sleep(Math.min(2000, 100 * 2 ** Math.min(attempt, 5)));
      }
    }
  }
}

// ---------------------------------------------------------------- the client

interface Outgoing {
  frame: SendFrame;
  /** When it was last written (0: not yet on this connection). */
  at: number;
}

/**
 * What a careful SDK does on the wire: one connection at a time, rotating through the
 * gateway URLs after each drop, a token from the api for each connect, every unaccepted
 * send rewritten with the same id (on reconnect, after `resendMs`, soon after a retryable
 * error), deliveries deduped by id (a bounded seen-set, as the SDK's) before the app
 * handler, acks for everything delivered (again for duplicates), re-sent when refused.
 */
export class ChaosClient {
  readonly outbox = new Map<string, Outgoing>();
  private ws: WebSocket | undefined;
  private open = false;
  private stopped = false;
  private turn: number;
  private readonly seen: BoundedIds;
  private readonly ackQueue = new Set<string>();
  private readonly ackBatches = new Map<string, string[]>();
  private ackTimer: NodeJS.Timeout | undefined;
  private readonly timer: NodeJS.Timeout;
  private connecting: Promise<void> | undefined;

  constructor(
    readonly account: Account,
    private readonly urls: () => string[],
    private readonly tracker: Tracker,
    seenLimit: number,
    offset: number,
    private readonly resendMs = 2000,
  ) {
    this.turn = offset;
    this.seen = new BoundedIds(seenLimit);
    this.timer = setInterval(() => this.resendDue(), 250);
  }

  start(): Promise<void> {
    this.connecting ??= this.connectLoop().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async connectLoop(): Promise<void> {
    while (!this.stopped && !this.open) {
      let token: string;
      try {
        token = await this.account.token();
      } catch {
        return; // stopped
      }
      const urls = this.urls();
      const url = urls[this.turn++ % urls.length]!;
      try {
        await this.connect(url, token);
        this.tracker.phase.reconnects++;
        return;
      } catch {
        await sleep(200);
      }
    }
  }

  private connect(url: string, token: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, [WS_SUBPROTOCOL], {
        headers: { authorization: `Bearer ${token}` },
        handshakeTimeout: 5000,
      });
      let opened = false;
      ws.on('error', () => undefined);
      ws.once('unexpected-response', (_req, res) => {
        res.resume();
        ws.terminate();
        reject(new Error(`upgrade refused: ${res.statusCode}`));
      });
      ws.once('open', () => {
        opened = true;
        this.ws = ws;
        this.open = true;
        // Everything unaccepted goes again, in the original order.
        for (const o of this.outbox.values()) this.write(o);
        resolve();
      });
      ws.on('message', (data) => this.onFrame(JSON.parse(String(data)) as ServerFrame));
      ws.once('close', () => {
        if (!opened) return reject(new Error('closed before open'));
        if (this.ws === ws) {
          this.ws = undefined;
          this.open = false;
        }
        if (!this.stopped) setTimeout(() => void this.start(), 100);
      });
    });
  }

  private onFrame(f: ServerFrame): void {
    switch (f.type) {
      case 'accepted':
        if (this.outbox.delete(f.id)) this.tracker.accepted(f.id);
        return;
      case 'deliver':
        this.tracker.wire(f);
        if (!this.seen.has(f.id)) {
          this.seen.add(f.id);
          this.tracker.show(f);
        }
        this.queueAck(f.id);
        return;
      case 'contact':
        this.queueAck(f.id);
        return;
      case 'delivered':
        this.tracker.receipt(f.id);
        return;
      case 'error': {
        this.tracker.error(f.code);
        const ref = f.ref;
        if (ref === undefined) return;
        const o = this.outbox.get(ref);
        if (o) {
          if (RETRYABLE.has(f.code)) {
            o.at = Date.now() - this.resendMs + 500; // again in half a second
          } else {
            this.outbox.delete(ref);
            this.tracker.refused(ref, f.code);
          }
          return;
        }
        // An ack the gateway could not pass on: its `ref` is the batch's first id.
        const batch = this.ackBatches.get(ref);
        if (batch && RETRYABLE.has(f.code)) {
          this.ackBatches.delete(ref);
          for (const id of batch) this.queueAck(id);
        }
        return;
      }
      case 'drain':
        this.ws?.close();
        return;
      default:
        return;
    }
  }

  private queueAck(id: string): void {
    this.ackQueue.add(id);
    this.ackTimer ??= setTimeout(() => this.flushAcks(), 20);
  }

  private flushAcks(): void {
    this.ackTimer = undefined;
    const ws = this.ws;
    if (!ws || !this.open) {
      // Acked again when redelivered after the reconnect.
      this.ackQueue.clear();
      return;
    }
    const ids = [...this.ackQueue];
    this.ackQueue.clear();
    for (let i = 0; i < ids.length; i += MAX_ACK_IDS) {
      const batch = ids.slice(i, i + MAX_ACK_IDS);
      this.ackBatches.set(batch[0]!, batch);
      if (this.ackBatches.size > 1000) {
        this.ackBatches.delete(this.ackBatches.keys().next().value as string);
      }
      ws.send(JSON.stringify({ type: 'ack', ids: batch }));
    }
  }

  private write(o: Outgoing): void {
    const ws = this.ws;
    if (!ws || !this.open || ws.readyState !== WebSocket.OPEN) return;
    o.at = Date.now();
    ws.send(JSON.stringify(o.frame));
  }

  private resendDue(): void {
    const due = Date.now() - this.resendMs;
    for (const o of this.outbox.values()) if (o.at < due) this.write(o);
  }

  send(to: string): string {
    const id = newMessageId();
    this.tracker.created(id);
    const o: Outgoing = {
      frame: { type: 'send', id, to, kind: 'message', body: `chaos ${id}` },
      at: 0,
    };
    this.outbox.set(id, o);
    this.write(o);
    return id;
  }

  /** Drops the connection abruptly (as a phone losing its network would). */
  drop(): void {
    this.ws?.terminate();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.account.stopped = true;
    clearInterval(this.timer);
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ws?.terminate();
  }
}
