/**
 * Test WebSocket clients speaking the protocol with `ws` directly (the SDK is another
 * area's subject): a raw one for precise frame-level tests, and a reliable one that
 * reconnects, resends until `accepted` and dedupes deliveries, for fault tests.
 */
import WebSocket from 'ws';
import {
  newMessageId,
  WS_SUBPROTOCOL,
  type DeliverFrame,
  type MessageKind,
  type SendFrame,
  type ServerFrame,
} from '@gossip/protocol';

export interface Closed {
  code: number;
  reason: string;
}

/** Thrown by {@link WsClient.connect} when the upgrade is refused. */
export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`upgrade refused with ${status}: ${body}`);
  }
}

export class WsClient {
  readonly frames: ServerFrame[] = [];
  readonly closed: Promise<Closed>;
  private waiters: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        this.wake();
      });
    });
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(String(data)) as ServerFrame);
      this.wake();
    });
    ws.on('error', () => undefined);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Opens a connection; `token` goes in the Authorization header unless `viaQuery`. */
  static connect(
    url: string,
    token: string | undefined,
    opts: { viaQuery?: boolean; timeoutMs?: number; headers?: Record<string, string> } = {},
  ): Promise<WsClient> {
    const target =
      opts.viaQuery && token ? `${url}?access_token=${encodeURIComponent(token)}` : url;
    const headers: Record<string, string> = { ...opts.headers };
    if (token && !opts.viaQuery) headers.authorization = `Bearer ${token}`;
    const ws = new WebSocket(target, [WS_SUBPROTOCOL], {
      headers,
      handshakeTimeout: opts.timeoutMs ?? 5000,
    });
    const client = new WsClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => reject(new UpgradeRefused(res.statusCode ?? 0, body)));
      });
      ws.once('error', reject);
    });
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Sends a message frame (`kind` message unless given) and returns its id. */
  sendMessage(
    to: string,
    body: string,
    kind: MessageKind = 'message',
    id = newMessageId(),
  ): string {
    this.send({ type: 'send', id, to, kind, body });
    return id;
  }

  /** Waits for a frame matching `pred` (already received or still to come). */
  async waitFor<F extends ServerFrame = ServerFrame>(
    pred: (f: ServerFrame) => boolean,
    timeoutMs = 10_000,
    what = 'a frame',
  ): Promise<F> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.frames.find(pred);
      if (hit) return hit as F;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `timed out waiting for ${what}; got ${JSON.stringify(this.frames.map((f) => f.type))}`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): Promise<Closed> {
    this.ws.close();
    return this.closed;
  }
}

export interface ReliableOptions {
  /** Gateways to use, tried in turn after each disconnect. */
  urls: () => string[];
  token: () => Promise<string> | string;
  /** Ack deliveries (default true). */
  autoAck?: boolean;
  /** Resend unaccepted sends after this long (ms). @default 2000 */
  resendMs?: number;
}

/**
 * What a careful SDK does, reduced to what the fault tests count: keeps a connection up,
 * resends every unaccepted message with the same id, shows each delivery once.
 */
export class ReliableClient {
  /** Sends not yet accepted: id -> frame and when it was last sent. */
  readonly outbox = new Map<string, { frame: SendFrame; at: number }>();
  readonly accepted = new Set<string>();
  /** Deliveries shown to the "app": first arrival of each id, in arrival order. */
  readonly shown: DeliverFrame[] = [];
  readonly seen = new Set<string>();
  /** Every `deliver` frame on the wire, duplicates included. */
  wireDeliveries = 0;
  readonly errors: ServerFrame[] = [];
  readonly receipts = new Set<string>();
  client: WsClient | undefined;
  connects = 0;
  private stopped = false;
  private turn = 0;
  private timer: NodeJS.Timeout;
  autoAck: boolean;

  constructor(private readonly opts: ReliableOptions) {
    this.autoAck = opts.autoAck ?? true;
    this.timer = setInterval(() => this.resendDue(), 250);
  }

  async start(): Promise<void> {
    await this.connectLoop();
  }

  private async connectLoop(): Promise<void> {
    while (!this.stopped) {
      const urls = this.opts.urls();
      const url = urls[this.turn++ % urls.length]!;
      try {
        const c = await WsClient.connect(url, await this.opts.token());
        this.connects++;
        this.attach(c);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  private attach(c: WsClient): void {
    this.client = c;
    c.ws.on('message', (data) => this.onFrame(JSON.parse(String(data)) as ServerFrame));
    void c.closed.then(() => {
      if (this.client === c) this.client = undefined;
      if (!this.stopped) setTimeout(() => void this.connectLoop(), 100);
    });
    // Everything unaccepted goes again, in the original order.
    for (const entry of this.outbox.values()) this.write(entry);
  }

  private onFrame(f: ServerFrame): void {
    switch (f.type) {
      case 'accepted':
        this.outbox.delete(f.id);
        this.accepted.add(f.id);
        return;
      case 'deliver':
        this.wireDeliveries++;
        if (!this.seen.has(f.id)) {
          this.seen.add(f.id);
          this.shown.push(f);
        }
        if (this.autoAck) this.client?.send({ type: 'ack', ids: [f.id] });
        return;
      case 'delivered':
        this.receipts.add(f.id);
        return;
      case 'error':
        this.errors.push(f);
        return;
      case 'drain':
        this.client?.ws.close();
        return;
      default:
        return;
    }
  }

  private write(entry: { frame: SendFrame; at: number }): void {
    const c = this.client;
    if (!c || c.ws.readyState !== WebSocket.OPEN) return;
    entry.at = Date.now();
    c.send(entry.frame);
  }

  private resendDue(): void {
    const due = Date.now() - (this.opts.resendMs ?? 2000);
    for (const entry of this.outbox.values()) if (entry.at < due) this.write(entry);
  }

  /** Queues a message (sent now if connected, else on the next connect). */
  sendMessage(to: string, body: string, kind: MessageKind = 'message', id = newMessageId()) {
    const entry = { frame: { type: 'send', id, to, kind, body } as SendFrame, at: 0 };
    this.outbox.set(id, entry);
    this.write(entry);
    return id;
  }

  /** Acks everything shown so far (for a client that ran with autoAck off). */
  ackAll(): void {
    const ids = [...this.seen];
    for (let i = 0; i < ids.length; i += 200) {
      this.client?.send({ type: 'ack', ids: ids.slice(i, i + 200) });
    }
  }

  /** Drops the connection abruptly (no close handshake), as a crashing app would. */
  dropConnection(): void {
    this.client?.ws.terminate();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    if (this.client) await this.client.close();
  }
}
