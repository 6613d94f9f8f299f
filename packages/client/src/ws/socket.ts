/**
 * The WebSocket the SDK needs, kept to the handful of members browsers' `WebSocket` and
 * Node's `ws` share, so the SDK can run on either: the constructor is injected, never
 * imported (the browser entry holds no `node:` or `ws` import).
 */

/** The close event fields the SDK reads. */
export interface SocketCloseEvent {
  code: number;
  reason: string;
}

/** The members of a WebSocket the SDK uses (browsers' `WebSocket` and `ws` both have them). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: SocketCloseEvent) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

/**
 * Opens a socket to `url` offering `protocols`, authenticated with `credential`: the
 * access token, or (when the factory's `credential` is `'ticket'`) a single-use ticket
 * from the api. Browsers cannot set headers on a WebSocket, so the browser factory puts a
 * ticket in the `ticket` query parameter, never the access token (URLs end up in logs);
 * the Node factory (`@gossip/client/node`) sends the token in an `Authorization: Bearer`
 * header and reports a refused upgrade as close code `4000 + HTTP status` (4401: the
 * token was refused).
 */
export type WebSocketFactory = ((
  url: string,
  protocols: string[],
  credential: string,
) => WebSocketLike) & {
  /** What the factory wants as `credential`. @default 'token' */
  credential?: 'token' | 'ticket';
};

/** A WHATWG-style WebSocket constructor (`globalThis.WebSocket`, or `ws`'s default export). */
export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
) => WebSocketLike;

/** Close code the SDK uses for "the upgrade was refused with HTTP `status`". */
export function refusedCloseCode(status: number): number {
  return 4000 + status;
}

/** Open `readyState` (the same number in browsers and `ws`). */
export const OPEN = 1;

/** `url` with a single-use WebSocket ticket in its `ticket` query parameter. */
export function withTicket(url: string, ticket: string): string {
  const u = new URL(url);
  u.searchParams.set('ticket', ticket);
  return u.toString();
}

/**
 * A factory over a WHATWG WebSocket constructor: it connects with a single-use ticket in
 * the query string (the connection fetches one from the api for each attempt), so no access
 * token is ever in a URL. Defaults to the global `WebSocket` of browsers (and Node 22+).
 */
export function queryTokenFactory(ctor?: WebSocketConstructor): WebSocketFactory {
  const factory: WebSocketFactory = (url, protocols, ticket) => {
    const Ctor =
      ctor ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ?? undefined;
    if (!Ctor) {
      throw new Error(
        'no WebSocket implementation: pass `webSocket` (in Node, use nodeWebSocketFactory() from @gossip/client/node)',
      );
    }
    return new Ctor(withTicket(url, ticket), protocols);
  };
  factory.credential = 'ticket';
  return factory;
}
