/**
 * The one pino root logger of a service: JSON to stdout, secrets redacted by field name,
 * request URLs stripped of token-like query values. Components take `child({ component })`.
 */
import pino from 'pino';

type Logger = pino.Logger;

const SECRET_FIELDS = [
  'password',
  'newPassword',
  'token',
  'accessToken',
  'refreshToken',
  'authorization',
  'cookie',
  'privateKey',
  'secret',
  'jwtSecret',
  'ticket',
];

/**
 * Paths pino censors: each secret field at the top level and up to three levels down,
 * plus the request headers fastify and ws log.
 */
export const REDACT_PATHS: readonly string[] = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
  ...SECRET_FIELDS.map((f) => `*.*.${f}`),
  ...SECRET_FIELDS.map((f) => `*.*.*.${f}`),
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["sec-websocket-protocol"]',
  'headers.authorization',
  'headers.cookie',
];

// `ticket`: a browser's single-use WebSocket ticket (harmless once used, but never logged).
const SECRET_QUERY = /token|password|secret|key|auth|ticket/i;

/** `text` percent-decoded, or `undefined` when it is not valid (a bad escape, bad UTF-8). */
function tryDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/**
 * `url` with the values of token-like query parameters replaced by `[redacted]`. Never
 * throws: the URL is whatever a client sent. A name that cannot be decoded has its value
 * redacted too, since it may spell a secret name in escapes this cannot read.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return pair;
      const name = pair.slice(0, eq);
      const decoded = tryDecode(name);
      return decoded === undefined || SECRET_QUERY.test(decoded) ? `${name}=[redacted]` : pair;
    });
  return `${url.slice(0, q)}?${params.join('&')}`;
}

/**
 * `serialize` made total: pino calls serializers inside the log call, so one that throws
 * on a hostile request would throw out of whatever was logging (for fastify, out of the
 * socket's request handler, which ends the process).
 */
function never<T>(serialize: (value: T) => unknown): (value: T) => unknown {
  return (value) => {
    try {
      return serialize(value);
    } catch {
      return { unserializable: true };
    }
  };
}

interface RequestLike {
  method?: string;
  url?: string;
  ip?: string;
  id?: unknown;
  socket?: { remoteAddress?: string };
}

/** Logs what identifies a request, never its headers or body. */
function serializeRequest(req: RequestLike): Record<string, unknown> {
  return {
    id: req.id,
    method: req.method,
    url: typeof req.url === 'string' ? redactUrl(req.url) : undefined,
    remoteAddress: req.ip ?? req.socket?.remoteAddress,
  };
}

function serializeResponse(res: { statusCode?: number }): Record<string, unknown> {
  return { statusCode: res.statusCode };
}

export interface LoggerOptions {
  /** Service name, logged as `service` on every line. */
  name: string;
  /** @default 'info' */
  level?: pino.LevelWithSilent | string;
  /** Where to write; stdout by default. Tests pass a stream to capture lines. */
  destination?: pino.DestinationStream;
}

/** Creates the root logger of a service. */
export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { service: opts.name },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
      serializers: {
        req: never(serializeRequest),
        res: never(serializeResponse),
        err: never(pino.stdSerializers.err),
      },
    },
    // Synchronous writes: a few lines per request, and nothing lost on process.exit().
    opts.destination ?? pino.destination({ fd: 1, sync: true }),
  );
}

export type { Logger };
