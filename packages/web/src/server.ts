/**
 * The web client's server: serves the built page and forwards `/v1/*` to the api and the
 * `/ws` WebSocket upgrade to the gateway, so the browser talks to one origin (no CORS,
 * and the gateway's origin check sees the page's own origin).
 *
 * It is deliberately small (node:http, no framework): it logs nothing per request. The
 * WebSocket URL carries only a single-use ticket (never the access token), but that is
 * still nothing to keep in a log.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import {
  createServer,
  request,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import type { Duplex } from 'node:stream';
import { errorBody, MAX_AVATAR_BYTES } from '@gossip/protocol';

/**
 * Largest request body forwarded to the api: above its largest (an avatar). Refused here,
 * so a huge upload is a clean 413 instead of the api closing the connection mid-body,
 * which reaches the browser as a 502.
 */
const MAX_PROXIED_BODY_BYTES = MAX_AVATAR_BYTES + 64 * 1024;

export interface WebServerOptions {
  /** The built page (Vite's `dist`). */
  root: string;
  /** The api's base URL, e.g. `http://127.0.0.1:8080`. */
  apiUrl: string;
  /** The gateway's base URL, e.g. `http://127.0.0.1:8081` (its `/ws` is forwarded). */
  gatewayUrl: string;
  /** @default 8000; 0 picks a free port */
  port?: number;
  /** @default 127.0.0.1 */
  host?: string;
  /** A connection whose request head takes longer is closed with 408 (slowloris). @default 10000 */
  headersTimeoutMs?: number;
  /** A connection whose whole request takes longer is closed with 408. @default 30000 */
  requestTimeoutMs?: number;
}

export interface WebServer {
  /** Where the page is, e.g. `http://127.0.0.1:8000`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
};

/**
 * The page only loads its own scripts and styles, runs no eval (the bundle validates
 * frames without TypeBox's compiler: see src/app/typebox-check.ts) and only connects
 * to its own origin (`'self'` covers same-origin ws: in current browsers). No referrer:
 * nothing in a URL leaks to another site.
 */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; " +
    "img-src 'self' data: blob:; " +
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

/** Starts the server; resolves once it listens. */
export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const root = resolve(opts.root);
  const api = new URL(opts.apiUrl);
  const gateway = new URL(opts.gatewayUrl);
  const sockets = new Set<Duplex>();

  const headersTimeout = opts.headersTimeoutMs ?? 10_000;
  const requestTimeout = Math.max(headersTimeout, opts.requestTimeoutMs ?? 30_000);
  const server: Server = createServer(
    {
      // Node's defaults (60 s, 300 s, checked every 30 s) let a slow client hold a socket
      // for minutes; the interval follows the timeout so it is enforced on time.
      headersTimeout,
      requestTimeout,
      connectionsCheckingInterval: Math.max(100, Math.min(30_000, headersTimeout / 4)),
    },
    guarded((req, res) => {
      const path = pathOf(req);
      if (path === '/v1' || path.startsWith('/v1/')) {
        proxyHttp(req, res, api);
        return;
      }
      if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      return serveFile(root, path, req, res);
    }),
  );

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    if (pathOf(req) !== '/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    try {
      proxyUpgrade(req, socket, head, gateway, sockets);
    } catch {
      socket.destroy();
    }
  });

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 8000, opts.host ?? '127.0.0.1', () => {
      server.off('error', fail);
      ok();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host && opts.host !== '0.0.0.0' ? opts.host : '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    close: () =>
      new Promise<void>((ok) => {
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

/**
 * `handler` as a `request` listener that cannot end the process: whatever it throws or
 * rejects with is answered 500 (or the socket closed when an answer had started).
 */
function guarded(
  handler: (req: IncomingMessage, res: ServerResponse) => unknown,
): (req: IncomingMessage, res: ServerResponse) => void {
  const fail = (res: ServerResponse): void => {
    if (res.headersSent) res.destroy();
    else res.writeHead(500, { 'content-type': 'application/json' }).end(INTERNAL);
  };
  return (req, res) => {
    try {
      const out = handler(req, res);
      if (out instanceof Promise) out.catch(() => fail(res));
    } catch {
      fail(res);
    }
  };
}

const INTERNAL = '{"error":{"code":"internal","message":"Internal server error."}}';

function pathOf(req: IncomingMessage): string {
  try {
    return new URL(req.url ?? '/', 'http://x').pathname;
  } catch {
    return '/';
  }
}

function targetHeaders(req: IncomingMessage): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = v;
  // This server is the edge: what a browser claims in x-forwarded-* is dropped, not passed on.
  headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
  headers['x-forwarded-proto'] = 'http';
  if (req.headers.host) headers['x-forwarded-host'] = req.headers.host;
  return headers;
}

function proxyHttp(req: IncomingMessage, res: ServerResponse, target: URL): void {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_PROXIED_BODY_BYTES) {
    res
      .writeHead(413, { 'content-type': 'application/json', connection: 'close' })
      .end(JSON.stringify(errorBody('payload_too_large')));
    return;
  }
  const upstream = request(
    {
      hostname: target.hostname,
      port: target.port || 80,
      method: req.method,
      path: req.url,
      headers: targetHeaders(req),
    },
    (up) => {
      // The api going away mid-answer must not take this server with it.
      up.on('error', () => res.destroy());
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    },
  );
  upstream.on('error', () => {
    if (!res.headersSent) {
      res
        .writeHead(502, { 'content-type': 'application/json' })
        .end(
          '{"error":{"code":"unavailable","message":"the api cannot be reached from the web server"}}',
        );
    } else {
      res.destroy();
    }
  });
  req.pipe(upstream);
}

/**
 * Forwards a WebSocket upgrade byte for byte: the request head is replayed to the
 * gateway, then both sockets are piped together (the gateway answers the handshake).
 */
function proxyUpgrade(
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  target: URL,
  sockets: Set<Duplex>,
): void {
  const upstream: Socket = connect(Number(target.port || 80), target.hostname);
  sockets.add(upstream);
  let connected = false;
  const fail = (): void => {
    upstream.destroy();
    client.destroy();
  };
  upstream.on('close', () => {
    sockets.delete(upstream);
    client.destroy();
  });
  upstream.on('error', () => {
    if (!connected && client.writable) {
      client.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    }
    fail();
  });
  client.on('error', fail);
  client.on('close', () => upstream.destroy());
  upstream.on('connect', () => {
    connected = true;
    const headers = targetHeaders(req);
    let raw = `${req.method ?? 'GET'} ${req.url ?? '/ws'} HTTP/1.1\r\n`;
    for (const [k, v] of Object.entries(headers)) {
      for (const one of Array.isArray(v) ? v : [v]) raw += `${k}: ${one}\r\n`;
    }
    upstream.write(raw + '\r\n');
    if (head.length > 0) upstream.write(head);
    upstream.setNoDelay(true);
    client.pipe(upstream);
    upstream.pipe(client);
  });
}

async function serveFile(
  root: string,
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  let rel: string;
  try {
    rel = normalize(decodeURIComponent(path)).replace(/^([/\\])+/, '');
  } catch {
    res.writeHead(400).end();
    return;
  }
  let file = join(root, rel);
  if (file !== root && !file.startsWith(root + sep)) {
    res.writeHead(404).end();
    return;
  }
  let info = await stat(file).catch(() => undefined);
  if (info?.isDirectory()) {
    file = join(file, 'index.html');
    info = await stat(file).catch(() => undefined);
  }
  // A single page: unknown paths without an extension get the page itself.
  if (!info && extname(rel) === '') {
    file = join(root, 'index.html');
    info = await stat(file).catch(() => undefined);
  }
  if (!info || !info.isFile()) {
    res
      .writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
      .end(
        rel === '' || rel === 'index.html'
          ? 'the web client is not built: run `npm start` (it builds it) or `npm run build -w @gossip/web`\n'
          : 'not found\n',
      );
    return;
  }
  const ext = extname(file);
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': TYPES[ext] ?? 'application/octet-stream',
    'content-length': info.size,
    // Vite puts a content hash in every asset name under /assets/; the page itself must
    // be re-read so a rebuild is picked up.
    'cache-control': rel.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  createReadStream(file)
    .on('error', () => res.destroy())
    .pipe(res);
}
