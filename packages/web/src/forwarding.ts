/**
 * What the web server's two forwards (`/v1` to the api, `/ws` to the gateway) share: the
 * request's path, and the `x-forwarded-*` headers this edge sets.
 */
import type { IncomingMessage } from 'node:http';

/** The path of a request target, or `/` when it is not a parsable URL. */
export function pathOf(url: string | undefined): string {
  try {
    return new URL(url ?? '/', 'http://x').pathname;
  } catch {
    return '/';
  }
}

/**
 * This server is the edge: what a browser claims in `x-forwarded-*` is replaced, not
 * passed on.
 */
export function forwardedHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {
    'x-forwarded-for': req.socket.remoteAddress ?? '',
    'x-forwarded-proto': 'http',
  };
  if (req.headers.host) headers['x-forwarded-host'] = req.headers.host;
  return headers;
}
