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
 * Opens a socket to `url` offering `protocols`, authenticated with the access token.
 * Browsers cannot set headers on a WebSocket, so the browser factory puts the token in
 * the `access_token` query parameter; the Node factory (`@gossip/client/node`) sends an
 * `Authorization: Bearer` header instead and reports a refused upgrade as close code
 * `4000 + HTTP status` (4401: the token was refused).
 */
export type WebSocketFactory = (url: string, protocols: string[], token: string) => WebSocketLike;

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

/** `url` with the access token in its `access_token` query parameter. */
export function withAccessToken(url: string, token: string): string {
  const u = new URL(url);
  u.searchParams.set('access_token', token);
  return u.toString();
}

/**
 * A factory over a WHATWG WebSocket constructor (the token goes in the query string).
 * Defaults to the global `WebSocket` of browsers (and Node 22+).
 */
export function queryTokenFactory(ctor?: WebSocketConstructor): WebSocketFactory {
  return (url, protocols, token) => {
    const Ctor =
      ctor ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ?? undefined;
    if (!Ctor) {
      throw new Error(
        'no WebSocket implementation: pass `webSocket` (in Node, use nodeWebSocketFactory() from @gossip/client/node)',
      );
    }
    return new Ctor(withAccessToken(url, token), protocols);
  };
}
