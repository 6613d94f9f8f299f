/**
 * A client's frames, in the order they arrive: rate limit, parse, then `auth` and `ping`
 * answered here and `send`, `ack` and `signal` forwarded to the engines.
 */
import type { RawData } from 'ws';
import { parseClientFrame, peekFrameRef, type EngineMessage } from '@gossip/protocol';
import type { Logger } from '@gossip/servicekit';
import type { Connection } from './connection.js';
import type { EngineBus } from './engine-bus.js';
import type { GatewayMetrics } from './metrics.js';
import type { SessionGuard } from './sessions.js';

/** Most sends one connection may have waiting for the engine at once. */
const MAX_PENDING_PER_CONN = 512;

export interface FrameRouterOptions {
  instanceId: string;
  maxFrameBytes: number;
  /** True once the gateway drains: new sends are refused (`draining`). */
  draining: () => boolean;
}

export class FrameRouter {
  constructor(
    private readonly opts: FrameRouterOptions,
    private readonly bus: EngineBus,
    private readonly sessions: SessionGuard,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
  ) {}

  /** A socket's `message`. */
  onFrame(conn: Connection, data: RawData, isBinary: boolean): void {
    // The rate limit comes first: a flood costs a token check per frame, never a parse.
    const limited = !conn.takeToken();
    const raw = Array.isArray(data)
      ? Buffer.concat(data as Buffer[])
      : data instanceof ArrayBuffer
        ? new Uint8Array(data)
        : (data as Buffer);
    if (limited) return this.onRateLimited(conn, raw);
    if (isBinary) {
      return conn.pushError('bad_frame', 'Frames are JSON text, not binary.');
    }
    const parsed = parseClientFrame(raw, { maxBytes: this.opts.maxFrameBytes });
    if (!parsed.ok) {
      return conn.pushError(parsed.error.code, parsed.error.message, parsed.error.ref);
    }
    const frame = parsed.frame;
    this.metrics.framesIn.inc({ type: frame.type });
    const reply = { gw: this.opts.instanceId, conn: conn.id };
    switch (frame.type) {
      case 'auth':
        void this.onAuth(conn, frame.token);
        return;
      case 'ping':
        conn.push(frame.ts === undefined ? { type: 'pong' } : { type: 'pong', ts: frame.ts });
        return;
      case 'send': {
        if (this.opts.draining()) return conn.pushError('draining', undefined, frame.id);
        const pending = (conn.pending ??= new Map());
        if (pending.size >= MAX_PENDING_PER_CONN && !pending.has(frame.id)) {
          return conn.pushError('rate_limited', 'Too many sends in flight.', frame.id);
        }
        if (!pending.has(frame.id)) pending.set(frame.id, performance.now());
        const at = Math.max(Date.now(), conn.lastAt + 1);
        conn.lastAt = at;
        const msg: EngineMessage = {
          op: 'send',
          id: frame.id,
          from: conn.user,
          to: frame.to,
          kind: frame.kind,
          body: frame.body,
          ...(frame.attachments ? { attachments: frame.attachments } : {}),
          at,
          ...reply,
        };
        this.bus.publish(msg).catch((err: unknown) => {
          pending.delete(frame.id);
          this.log.warn({ err, conn: conn.id, id: frame.id }, 'publish to engine failed');
          conn.pushError('unavailable', undefined, frame.id);
        });
        return;
      }
      case 'ack':
        this.bus
          .publish({ op: 'ack', user: conn.user, ids: frame.ids, ...reply })
          .catch((err: unknown) => {
            this.log.warn({ err, conn: conn.id }, 'publish ack failed');
            conn.pushError('unavailable', 'Ack not recorded; send it again.', frame.ids[0]);
          });
        return;
      case 'signal': {
        const msg: EngineMessage = {
          op: 'signal',
          from: conn.user,
          to: frame.to,
          signal: frame.signal,
          ...reply,
        };
        if (frame.body !== undefined) msg.body = frame.body;
        this.bus.publish(msg, false).catch(() => conn.pushError('unavailable'));
        return;
      }
    }
  }

  /**
   * A frame over the connection's rate: refused unread (its `ref` peeked from its first
   * bytes, so the sender can retry it), or the connection closed when it keeps on (see
   * `Connection.rateViolation`).
   */
  private onRateLimited(conn: Connection, raw: Uint8Array): void {
    if (conn.readyState !== conn.OPEN) return;
    if (conn.rateViolation()) conn.pushError('rate_limited', undefined, peekFrameRef(raw));
  }

  /**
   * An `auth` frame: a fresh token of the same account (same `sub` and `uid`) for a live
   * session moves the connection's expiry (and its session, after a new login) forward.
   * Anything else is an error frame; the connection keeps its current expiry.
   */
  private async onAuth(conn: Connection, token: string): Promise<void> {
    const checked = await this.sessions.check(token);
    if (conn.readyState !== conn.OPEN) return;
    if (!checked.ok) return conn.pushError(checked.code);
    const { session } = checked;
    if (session.username !== conn.user || session.uid !== conn.uid) {
      return conn.pushError('invalid_token', 'The token is for another account.');
    }
    conn.sid = session.sid;
    conn.armExpiry(session.exp);
    conn.push({
      type: 'authenticated',
      tokenExpiresInMs: Math.max(0, session.exp * 1000 - Date.now()),
    });
  }
}
