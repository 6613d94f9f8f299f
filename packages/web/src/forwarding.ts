/**
 * What the web server's two forwards (`/v1` to the api, `/ws` to the gateway) share: the
 * request's path, and the `x-forwarded-*` headers this edge sets.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

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

/** Headers of one hop only (RFC 9110 §7.6.1): they describe a connection, not the message. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
]);

/**
 * An upstream answer's headers without those of its own connection (and the ones its
 * `Connection` names): the api's `connection: keep-alive` to this server must not keep the
 * browser's socket open after it asked for `Connection: close`.
 */
export function endToEnd<H extends IncomingHttpHeaders>(headers: H): H {
  const named = String(headers.connection ?? '')
    .toLowerCase()
    .split(',')
    .map((h) => h.trim());
  const out = { ...headers };
  for (const k of Object.keys(out)) {
    if (HOP_BY_HOP.has(k.toLowerCase()) || named.includes(k.toLowerCase())) delete out[k];
  }
  return out;
}
