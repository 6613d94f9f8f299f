/**
 * The WebSocket upgrade: path, origin, the per-address caps and connect rate, the
 * credential (token or ticket, see `SessionGuard`), the per-user caps here and across
 * gateways; a refused upgrade is answered with a JSON error and the socket closed.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Server as WsServer } from 'ws';
import { ERRORS, WS_PATH, type ErrorCode } from '@gossip/protocol';
import {
  clientAddress,
  type Logger,
  type TrustFunction,
  type VerifiedToken,
} from '@gossip/servicekit';
import { credentialFrom } from './auth.js';
import type { ConnectionCaps, UserConnectionCounts } from './caps.js';
import type { Connection } from './connection.js';
import type { GatewayMetrics } from './metrics.js';
import type { ConnectionRegistry } from './registry.js';
import type { SessionGuard } from './sessions.js';

/** Swallows errors on a socket before ws has taken it over (ws handles them after). */
const ignoreError = (): void => undefined;

const STATUS_TEXT: Record<number, string> = {
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

export interface UpgradeOptions {
  allowedOrigins: readonly string[];
  trust: TrustFunction;
  /** True once the gateway drains: upgrades are refused (503 `draining`). */
  draining: () => boolean;
  /** Takes an accepted socket. */
  accept: (conn: Connection, session: VerifiedToken) => void;
}

export class Upgrader {
  constructor(
    private readonly opts: UpgradeOptions,
    private readonly wss: WsServer<typeof Connection>,
    private readonly sessions: SessionGuard,
    private readonly caps: ConnectionCaps,
    private readonly userCounts: UserConnectionCounts,
    private readonly registry: ConnectionRegistry,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
  ) {}

  /** The public server's `upgrade` listener. */
  async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', ignoreError);
    const path = (req.url ?? '/').split('?')[0];
    if (path !== WS_PATH) return this.refuse(socket, 404, 'not_found', 'not_found');
    if (this.opts.draining()) return this.refuse(socket, 503, 'draining', 'draining');
    // Caps before the token: an address over its rate or cap costs no signature check.
    const address = clientAddress(req, this.opts.trust);
    const capped = this.caps.admitAddress(address);
    if (capped) return this.refuse(socket, 429, 'rate_limited', capped);
    const origin = req.headers.origin;
    const origins = this.opts.allowedOrigins;
    if (origins.length > 0 && origin && !origins.includes(origin)) {
      return this.refuse(socket, 403, 'forbidden', 'origin');
    }
    const credential = credentialFrom(req);
    if (!credential) return this.refuse(socket, 401, 'unauthorized', 'unauthorized');
    const checked =
      credential.kind === 'ticket'
        ? await this.sessions.checkTicket(credential.value)
        : await this.sessions.check(credential.value);
    if (!checked.ok) {
      if (checked.code === 'unavailable') return this.refuse(socket, 503, 'unavailable', 'redis');
      return this.refuse(socket, 401, checked.code, 'unauthorized');
    }
    if (this.opts.draining()) return this.refuse(socket, 503, 'draining', 'draining');
    const { session } = checked;
    // The user's connections on every gateway (Redis). Unavailable: the local cap below
    // still holds. An admitted upgrade refused below leaves its count one high until the
    // next heartbeat re-states this gateway's counts.
    const admitted = await this.userCounts
      .admit(session.username, this.registry.countOf(session.username) + 1)
      .catch((err: unknown) => {
        this.log.warn({ err }, 'user connection counts unavailable; local cap only');
        return true;
      });
    if (!admitted) return this.refuse(socket, 429, 'rate_limited', 'user_cap');
    // Again after the await, which other upgrades from this address or user may have
    // completed in; from here to `accept` nothing yields, so the counts hold.
    if (this.caps.addressFull(address)) {
      return this.refuse(socket, 429, 'rate_limited', 'address_cap');
    }
    if (this.caps.userFull(this.registry.countOf(session.username))) {
      return this.refuse(socket, 429, 'rate_limited', 'user_cap');
    }
    this.wss.handleUpgrade(req, socket, head, (conn) => {
      socket.off('error', ignoreError);
      conn.address = address;
      this.opts.accept(conn, session);
    });
  }

  private refuse(socket: Duplex, status: number, code: ErrorCode, reason: string): void {
    this.metrics.upgradesRejected.inc({ reason });
    const body = JSON.stringify({ error: { code, message: ERRORS[code].message } });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nConnection: close\r\n` +
        `Content-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
}
