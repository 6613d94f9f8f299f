/**
 * Where the gateway finds a connection's credentials at the WebSocket upgrade. Tokens and
 * tickets are verified with `@gossip/servicekit` (`verifyAccessToken`, the one verifier, and
 * `verifyWsTicket`, which shares its code) by the `SessionGuard`.
 */
import type { IncomingMessage } from 'node:http';

/** An upgrade's credential: an access token, or a single-use ticket from the api. */
export type Credential = { kind: 'token'; value: string } | { kind: 'ticket'; value: string };

/**
 * The credential of an upgrade request: `Authorization: Bearer <token>` (native clients);
 * `?ticket=<ticket>` (browsers, which cannot set headers on a WebSocket: a short-lived,
 * single-use ticket from `POST /v1/auth/ws-ticket`, so no access token is ever in a URL); or
 * the deprecated `?access_token=` query parameter of older browser clients.
 */
export function credentialFrom(req: IncomingMessage): Credential | undefined {
  const h = req.headers.authorization;
  if (typeof h === 'string') {
    const m = /^Bearer\s+(\S+)$/i.exec(h);
    return m?.[1] ? { kind: 'token', value: m[1] } : undefined;
  }
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://gateway');
  } catch {
    return undefined;
  }
  const ticket = url.searchParams.get('ticket');
  if (ticket) return { kind: 'ticket', value: ticket };
  const token = url.searchParams.get('access_token');
  return token ? { kind: 'token', value: token } : undefined;
}
