/**
 * Hardening shared by every node:http listener in Gossip (the api through fastify, the
 * gateway, the engine's and the operator's ops ports): timeouts so a slow client cannot
 * hold a socket forever (slowloris), a JSON answer for requests Node's parser refuses, and
 * request handlers that cannot throw out of the server (an exception thrown from a
 * `request` or `upgrade` listener, or an unhandled rejection, ends the process).
 */
import type { IncomingMessage, ServerOptions, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERRORS, type ErrorCode } from '@gossip/protocol';

/** How long a client may take to send a request. */
export interface HttpTimeouts {
  /** Until the request head (line and headers) is complete. */
  headersTimeoutMs: number;
  /** Until the whole request (head and body) is in; at least `headersTimeoutMs`. */
  requestTimeoutMs: number;
}

/**
 * Defaults for public listeners: generous for a real client on a bad network, far
 * shorter than Node's (60 s for headers, 300 s for a request).
 */
export const DEFAULT_HTTP_TIMEOUTS: Readonly<HttpTimeouts> = Object.freeze({
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
});

/**
 * `node:http` server options for these timeouts. Node checks them only every
 * `connectionsCheckingInterval` (30 s by default), so the interval follows the headers
 * timeout; the header size limit is Node's 16 KiB, stated so it does not change with a
 * `--max-http-header-size` flag.
 */
export function serverOptions(t: HttpTimeouts = DEFAULT_HTTP_TIMEOUTS): ServerOptions {
  if (t.requestTimeoutMs < t.headersTimeoutMs) {
    throw new RangeError(
      `requestTimeoutMs (${t.requestTimeoutMs}) must be at least headersTimeoutMs (${t.headersTimeoutMs})`,
    );
  }
  return {
    headersTimeout: t.headersTimeoutMs,
    requestTimeout: t.requestTimeoutMs,
    connectionsCheckingInterval: Math.max(
      100,
      Math.min(30_000, Math.floor(t.headersTimeoutMs / 4)),
    ),
    maxHeaderSize: 16 * 1024,
  };
}

/** The status and catalog code for an error Node's HTTP parser reported on a socket. */
function clientErrorStatus(err: NodeJS.ErrnoException): [number, string, ErrorCode] {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return [408, 'Request Timeout', 'request_timeout'];
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    return [431, 'Request Header Fields Too Large', 'headers_too_large'];
  }
  return [400, 'Bad Request', 'bad_request'];
}

/**
 * A server's `clientError` listener: answers what the parser refused with a JSON error
 * (400, 408 or 431) when the socket can still take it, then closes the socket.
 */
export function onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  if (!socket.writable || (socket as Duplex & { _httpMessage?: unknown })._httpMessage) {
    // A response was already started on this socket: there is nothing clean to write.
    socket.destroy();
    return;
  }
  const [status, text, code] = clientErrorStatus(err);
  socket.end(rawResponse(status, text, code), () => socket.destroy());
}

/** A complete HTTP/1.1 response with a catalog error body, for raw sockets. */
export function rawResponse(
  status: number,
  statusText: string,
  code: ErrorCode,
  headers: Record<string, string> = {},
): string {
  const body = JSON.stringify({ error: { code, message: ERRORS[code].message } });
  let head = `HTTP/1.1 ${status} ${statusText}\r\nConnection: close\r\nContent-Type: application/json\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  return `${head}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** Where a guarded handler reports what it caught. */
export interface GuardLogger {
  error(obj: object, msg: string): void;
}

/**
 * `handler` as a `request` listener that never throws and never leaves a rejection
 * unhandled: a failure is logged and answered 500 (or the socket closed when the answer
 * had started), and the server keeps serving.
 */
export function guardRequests(
  handler: (req: IncomingMessage, res: ServerResponse) => unknown,
  log?: GuardLogger,
): (req: IncomingMessage, res: ServerResponse) => void {
  const fail = (res: ServerResponse, err: unknown): void => {
    log?.error({ err }, 'request handler failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = JSON.stringify({ error: { code: 'internal', message: ERRORS.internal.message } });
    res.writeHead(500, { 'content-type': 'application/json' }).end(body);
  };
  return (req, res) => {
    try {
      const out = handler(req, res);
      if (out instanceof Promise) out.catch((err: unknown) => fail(res, err));
    } catch (err) {
      fail(res, err);
    }
  };
}

/**
 * `handler` as an `upgrade` listener that never throws: a failure is logged and the
 * socket answered 500 and closed (a socket left open would hang the client).
 */
export function guardUpgrades(
  handler: (req: IncomingMessage, socket: Duplex, head: Buffer) => unknown,
  log?: GuardLogger,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const fail = (socket: Duplex, err: unknown): void => {
    log?.error({ err }, 'upgrade handler failed');
    if (socket.writable) {
      socket.end(rawResponse(500, 'Internal Server Error', 'internal'), () => socket.destroy());
    } else {
      socket.destroy();
    }
  };
  return (req, socket, head) => {
    socket.on('error', () => undefined);
    try {
      const out = handler(req, socket, head);
      if (out instanceof Promise) out.catch((err: unknown) => fail(socket, err));
    } catch (err) {
      fail(socket, err);
    }
  };
}
