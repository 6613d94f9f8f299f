/**
 * The web client's server: serves the built page and forwards `/v1/*` to the api and the
 * `/ws` WebSocket upgrade to the gateway, so the browser talks to one origin (no CORS,
 * and the gateway's origin check sees the page's own origin).
 *
 * fastify with `@fastify/static` (files, ranges, ETags and the path-traversal guard) and
 * `@fastify/http-proxy` (the `/v1` forward); the `/ws` upgrade is forwarded byte for byte
 * by ws-forward.ts (why not the proxy's websocket mode: see there). It logs nothing per
 * request: the WebSocket URL carries only a single-use ticket (never the access token),
 * but that is still nothing to keep in a log.
 */
import { stat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, relative, resolve, sep } from 'node:path';
import httpProxy from '@fastify/http-proxy';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import {
  errorBody,
  MAX_ATTACHMENT_PART_BYTES,
  MAX_AVATAR_BYTES,
  WS_PATH,
  type ErrorCode,
} from '@gossip/protocol';
import { endToEnd, forwardedHeaders, pathOf } from './forwarding.js';
import { forwardUpgrades } from './ws-forward.js';

/**
 * Largest request body forwarded to the api: above its largest (an attachment part, or an
 * avatar). Refused here, so a huge upload is a clean 413 instead of the api closing the
 * connection mid-body, which reaches the browser as a 502.
 */
const MAX_PROXIED_BODY_BYTES = Math.max(MAX_AVATAR_BYTES, MAX_ATTACHMENT_PART_BYTES) + 64 * 1024;

/** Every REST path of the api (API_PATHS) is under it. */
const API_PREFIX = '/v1';

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

const NOT_BUILT =
  'the web client is not built: run `npm start` (it builds it) or `npm run build -w @gossip/web`\n';

/** Starts the server; resolves once it listens. */
export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const root = resolve(opts.root);
  const headersTimeout = opts.headersTimeoutMs ?? 10_000;
  const requestTimeout = Math.max(headersTimeout, opts.requestTimeoutMs ?? 30_000);
  const app = Fastify({
    logger: false,
    // Node's defaults (60 s, 300 s, checked every 30 s) let a slow client hold a socket
    // for minutes; the interval follows the timeout so it is enforced on time.
    http: {
      headersTimeout,
      requestTimeout,
      connectionsCheckingInterval: Math.max(100, Math.min(30_000, headersTimeout / 4)),
    },
    requestTimeout,
    forceCloseConnections: true,
    // Long api paths are the api's to judge (its 404/414), not a miss here that would
    // fall back to the page.
    routerOptions: { maxParamLength: 64 * 1024 },
  });
  const ws = forwardUpgrades(app.server, WS_PATH, new URL(opts.gatewayUrl));

  app.setErrorHandler((err: FastifyError, _req, reply) => sendError(reply, err.statusCode));
  app.all('/healthz', (_req, reply) => reply.type('application/json').send('{"status":"ok"}'));

  await app.register(async (api) => {
    api.addHook('onRequest', async (req, reply) => {
      if (Number(req.headers['content-length'] ?? 0) > MAX_PROXIED_BODY_BYTES) {
        reply.header('connection', 'close');
        return sendError(reply, 413);
      }
    });
    await api.register(httpProxy, {
      upstream: opts.apiUrl,
      prefix: API_PREFIX,
      rewritePrefix: API_PREFIX,
      replyOptions: {
        rewriteHeaders: (headers) => endToEnd(headers),
        rewriteRequestHeaders: (req, headers) => ({
          ...headers,
          ...forwardedHeaders(req.raw as IncomingMessage),
        }),
        onError: (reply) => {
          reply
            .code(502)
            .type('application/json')
            .send(
              '{"error":{"code":"unavailable","message":"the api cannot be reached from the web server"}}',
            );
        },
      },
    });
  });

  await app.register(fastifyStatic, {
    root,
    // Types and cache policy are this page's (setHeaders); ETag and Last-Modified stay.
    contentType: false,
    cacheControl: false,
    redirect: false,
    setHeaders: (res, file) => {
      const rel = relative(root, file);
      res.setHeader('content-type', TYPES[extname(file)] ?? 'application/octet-stream');
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
      // Vite puts a content hash in every asset name under /assets/; the page itself must
      // be re-read so a rebuild is picked up.
      res.setHeader(
        'cache-control',
        rel.startsWith(`assets${sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
    },
  });
  app.setNotFoundHandler((req, reply) => notFound(root, req, reply));

  await app.listen({ port: opts.port ?? 8000, host: opts.host ?? '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  const host = opts.host && opts.host !== '0.0.0.0' ? opts.host : '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    close: async () => {
      ws.close();
      await app.close();
    },
  };
}

/** Outside `/v1` only GET and HEAD; a single page: unknown paths without an extension get the page itself. */
async function notFound(root: string, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    await reply.code(405).header('allow', 'GET, HEAD').send();
    return;
  }
  const rel = pathOf(req.url).replace(/^\/+/, '');
  const page = await stat(join(root, 'index.html')).catch(() => undefined);
  if (extname(rel) === '' && page?.isFile()) {
    await reply.sendFile('index.html');
    return;
  }
  await reply
    .code(404)
    .type('text/plain; charset=utf-8')
    .send(rel === '' || rel === 'index.html' ? NOT_BUILT : 'not found\n');
}

const CODES: Record<number, ErrorCode> = {
  400: 'bad_request',
  403: 'forbidden',
  404: 'not_found',
  408: 'request_timeout',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  431: 'headers_too_large',
};

/** An error this server answers itself, in the protocol's error body; 5xx say no more. */
function sendError(reply: FastifyReply, status: number | undefined): FastifyReply {
  const code: ErrorCode = status && status < 500 ? (CODES[status] ?? 'bad_request') : 'internal';
  return reply
    .code(status && status >= 400 ? status : 500)
    .type('application/json')
    .send(errorBody(code));
}
