/**
 * Where the gateway finds a connection's credentials at the WebSocket upgrade. Tokens are
 * verified with `@gossip/servicekit`'s `verifyAccessToken`, the one verifier in Gossip.
 */
import type { IncomingMessage } from 'node:http';

/**
 * The bearer token of an upgrade request: `Authorization: Bearer <t>` (native clients), or
 * the `access_token` query parameter (older browsers; see `tokenFrom` callers).
 */
export function tokenFrom(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (typeof h === 'string') {
    const m = /^Bearer\s+(\S+)$/i.exec(h);
    return m?.[1];
  }
  const url = new URL(req.url ?? '/', 'http://gateway');
  return url.searchParams.get('access_token') ?? undefined;
}
