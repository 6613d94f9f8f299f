/**
 * The malformed-input corpus: requests no well-behaved client sends, written byte for byte
 * over a raw TCP socket (node:net) so the bytes reach the server's parser unchanged (an
 * HTTP client library would refuse to send most of them).
 *
 * Every HTTP listener in Gossip runs this table (the api, the gateway, the engine's and the
 * operator's ops ports, the web server). Each case must end in a 4xx answer or a socket
 * the server closed, and the process must answer a normal request afterwards. To add a
 * case, add a row to {@link MALFORMED_CASES}.
 */
import { connect } from 'node:net';

/** A listener under test, and what it offers the corpus. */
export interface Listener {
  host: string;
  port: number;
  /** A GET answered with a 2xx while the process is healthy (e.g. `/healthz`). */
  healthPath: string;
  /**
   * A path that a well-formed GET is refused on with a 4xx (an unknown path on an ops
   * port, an authenticated route on the api): the path, query and header cases use it, so
   * a 4xx is required and anything else means the malformed part changed the outcome.
   */
  probePath: string;
  /** A route taking a JSON POST body; the body cases run only where there is one. */
  jsonPath?: string;
  /** The WebSocket upgrade path; the upgrade cases run only where there is one. */
  upgradePath?: string;
}

/** What a listener offers, known before it is started (to pick the cases). */
export interface Capabilities {
  json?: boolean;
  upgrade?: boolean;
}

export interface MalformedCase {
  name: string;
  /** Runs only on listeners with JSON bodies / a WebSocket upgrade. */
  needs?: keyof Capabilities;
  /** The bytes written (the whole request, or its first part for `slow` cases). */
  bytes(l: Listener): Buffer;
  /**
   * Never completed: the server must close the socket by itself (its headers or request
   * timeout). Listeners under test run with short timeouts so the wait is short.
   */
  slow?: boolean;
  /** Statuses required (default: any 4xx). A closed socket without an answer also passes. */
  statuses?: readonly number[];
}

const CRLF = '\r\n';

/** A request head from its parts; `Connection: close` so the server ends the exchange. */
function head(
  l: Listener,
  requestLine: string,
  headers: readonly (string | Buffer)[] = [],
  opts: { close?: boolean } = {},
): Buffer[] {
  const parts: Buffer[] = [Buffer.from(`${requestLine}${CRLF}Host: ${l.host}:${l.port}${CRLF}`)];
  for (const h of headers) parts.push(Buffer.isBuffer(h) ? h : Buffer.from(h), Buffer.from(CRLF));
  if (opts.close ?? true) parts.push(Buffer.from(`Connection: close${CRLF}`));
  return parts;
}

function request(
  l: Listener,
  requestLine: string,
  headers: readonly (string | Buffer)[] = [],
  body?: Buffer | string,
): Buffer {
  const b = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
  const lines = [...headers];
  if (b !== undefined) lines.push(`Content-Length: ${b.length}`);
  return Buffer.concat([...head(l, requestLine, lines), Buffer.from(CRLF), ...(b ? [b] : [])]);
}

const json = (l: Listener, body: Buffer | string, type = 'application/json'): Buffer =>
  request(l, `POST ${l.jsonPath ?? '/'} HTTP/1.1`, [`Content-Type: ${type}`], body);

const upgradeHeaders = [
  // Without `Connection: Upgrade` Node treats it as a plain GET.
  'Connection: Upgrade',
  'Upgrade: websocket',
  'Sec-WebSocket-Version: 13',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
];
const upgrade = (l: Listener, target: string, extra: readonly (string | Buffer)[] = []): Buffer =>
  Buffer.concat([
    ...head(l, `GET ${target} HTTP/1.1`, [...upgradeHeaders, ...extra], { close: false }),
    Buffer.from(CRLF),
  ]);

/** Far past Node's 16 KiB header limit. */
const HUGE = 64 * 1024;

/** The corpus. Names say what is malformed; keep them unique. */
export const MALFORMED_CASES: readonly MalformedCase[] = [
  // ---- the request line
  {
    name: 'bad percent-escape in the path',
    bytes: (l) => request(l, `GET ${l.probePath}/%zz%/%E0%A4%A HTTP/1.1`),
  },
  {
    name: 'bad percent-escape in a query name (GET /v1/users?%=1)',
    bytes: (l) => request(l, `GET ${l.probePath}?%=1 HTTP/1.1`),
  },
  {
    name: 'bad percent-escapes in query names and values',
    bytes: (l) => request(l, `GET ${l.probePath}?%zz=%&token%=%ff&%C3%28=%C3%28 HTTP/1.1`),
  },
  {
    name: 'percent-encoded invalid UTF-8 in the path',
    bytes: (l) => request(l, `GET ${l.probePath}/%C3%28%FF%FE HTTP/1.1`),
  },
  {
    name: 'raw invalid UTF-8 bytes in the path',
    bytes: (l) =>
      Buffer.concat([
        Buffer.from(`GET ${l.probePath}/`),
        Buffer.from([0xc3, 0x28, 0xff, 0xfe]),
        Buffer.from(` HTTP/1.1${CRLF}Host: x${CRLF}Connection: close${CRLF}${CRLF}`),
      ]),
  },
  {
    name: 'oversize URL (64 KiB)',
    bytes: (l) => request(l, `GET ${l.probePath}?q=${'a'.repeat(HUGE)} HTTP/1.1`),
  },
  {
    name: 'not HTTP at all (a TLS ClientHello on a plain port)',
    bytes: () => Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]),
  },
  {
    name: 'request line without a version',
    bytes: (l) => Buffer.from(`GET ${l.probePath}${CRLF}${CRLF}`),
  },
  // ---- headers
  {
    name: 'bad percent-escapes in header values',
    bytes: (l) =>
      request(l, `GET ${l.probePath} HTTP/1.1`, [
        'Authorization: Bearer %zz%',
        'Cookie: a=%; b=%E0%A4%A',
        'X-Forwarded-For: %zz',
        'Accept-Language: %',
      ]),
  },
  {
    name: 'raw invalid UTF-8 bytes in header values',
    bytes: (l) =>
      request(l, `GET ${l.probePath} HTTP/1.1`, [
        Buffer.concat([Buffer.from('Authorization: Bearer '), Buffer.from([0xff, 0xfe, 0xc3])]),
        Buffer.concat([Buffer.from('X-Name: '), Buffer.from([0xc3, 0x28, 0xa0, 0xa1])]),
      ]),
  },
  {
    name: 'NUL byte in a header value',
    bytes: (l) => request(l, `GET ${l.probePath} HTTP/1.1`, ['X-Evil: a\u0000b']),
  },
  {
    name: 'invalid character in a header name',
    bytes: (l) => request(l, `GET ${l.probePath} HTTP/1.1`, ['X Bad(Name): 1']),
  },
  {
    name: 'oversize header value (64 KiB)',
    bytes: (l) => request(l, `GET ${l.healthPath} HTTP/1.1`, [`X-Big: ${'b'.repeat(HUGE)}`]),
  },
  {
    name: 'oversize headers in total (many 1 KiB headers)',
    bytes: (l) =>
      request(
        l,
        `GET ${l.healthPath} HTTP/1.1`,
        Array.from({ length: 64 }, (_, i) => `X-H${i}: ${'h'.repeat(1024)}`),
      ),
  },
  {
    name: 'Content-Length that is not a number',
    bytes: (l) =>
      Buffer.from(
        `POST ${l.jsonPath ?? l.probePath} HTTP/1.1${CRLF}Host: x${CRLF}Content-Length: abc` +
          `${CRLF}Connection: close${CRLF}${CRLF}{}`,
      ),
  },
  {
    name: 'both Content-Length and Transfer-Encoding (request smuggling)',
    bytes: (l) =>
      Buffer.from(
        `POST ${l.jsonPath ?? l.probePath} HTTP/1.1${CRLF}Host: x${CRLF}Content-Type: application/json` +
          `${CRLF}Content-Length: 4${CRLF}Transfer-Encoding: chunked${CRLF}Connection: close` +
          `${CRLF}${CRLF}0${CRLF}${CRLF}`,
      ),
  },
  {
    name: 'slow headers (slowloris): the head never ends',
    slow: true,
    bytes: (l) => Buffer.from(`GET ${l.healthPath} HTTP/1.1${CRLF}Host: x${CRLF}X-Slow: a`),
    statuses: [408],
  },
  {
    name: 'slow body: the declared body never arrives',
    slow: true,
    needs: 'json',
    bytes: (l) =>
      Buffer.from(
        `POST ${l.jsonPath} HTTP/1.1${CRLF}Host: x${CRLF}Content-Type: application/json` +
          `${CRLF}Content-Length: 100${CRLF}${CRLF}{"a":`,
      ),
    statuses: [400, 408],
  },
  // ---- JSON bodies
  { name: 'truncated JSON', needs: 'json', bytes: (l) => json(l, '{"username":"alice","pass') },
  { name: 'empty JSON body', needs: 'json', bytes: (l) => json(l, '') },
  { name: 'JSON that is not an object', needs: 'json', bytes: (l) => json(l, '"x"') },
  {
    name: 'deeply nested JSON (10,000 arrays)',
    needs: 'json',
    bytes: (l) => json(l, '['.repeat(10_000) + ']'.repeat(10_000)),
  },
  {
    name: 'deeply nested JSON objects (5,000 levels)',
    needs: 'json',
    bytes: (l) => json(l, '{"a":'.repeat(5_000) + '1' + '}'.repeat(5_000)),
  },
  {
    name: 'JSON with __proto__ (prototype poisoning)',
    needs: 'json',
    bytes: (l) => json(l, '{"username":"alice","__proto__":{"admin":true}}'),
  },
  {
    name: 'invalid UTF-8 inside a JSON string',
    needs: 'json',
    bytes: (l) =>
      json(
        l,
        Buffer.concat([
          Buffer.from('{"username":"'),
          Buffer.from([0xff, 0xc3, 0x28]),
          Buffer.from('","password":"x"}'),
        ]),
      ),
  },
  {
    name: 'oversize JSON body (1 MiB)',
    needs: 'json',
    bytes: (l) => json(l, `{"username":"${'u'.repeat(1 << 20)}"}`),
    statuses: [413],
  },
  {
    name: 'wrong content type: text/plain',
    needs: 'json',
    bytes: (l) => json(l, '{"username":"alice"}', 'text/plain'),
    statuses: [415],
  },
  {
    name: 'wrong content type: application/xml',
    needs: 'json',
    bytes: (l) => json(l, '<a/>', 'application/xml'),
    statuses: [415],
  },
  {
    name: 'malformed content type',
    needs: 'json',
    bytes: (l) => json(l, '{}', ';;;/=='),
    statuses: [415],
  },
  {
    name: 'a body without a content type',
    needs: 'json',
    bytes: (l) => request(l, `POST ${l.jsonPath} HTTP/1.1`, [], '{"username":"alice"}'),
    statuses: [415],
  },
  // ---- WebSocket upgrades
  {
    name: 'upgrade with bad percent-escapes in the query',
    needs: 'upgrade',
    bytes: (l) => upgrade(l, `${l.upgradePath}?%=1&access_token=%zz%`),
  },
  {
    name: 'upgrade with bad percent-escapes in the path',
    needs: 'upgrade',
    bytes: (l) => upgrade(l, `${l.upgradePath}%zz/%`),
  },
  {
    name: 'upgrade with invalid UTF-8 in the Authorization header',
    needs: 'upgrade',
    bytes: (l) =>
      upgrade(l, `${l.upgradePath}`, [
        Buffer.concat([Buffer.from('Authorization: Bearer '), Buffer.from([0xff, 0xfe])]),
      ]),
  },
  {
    name: 'upgrade with a garbage token and a bad Origin',
    needs: 'upgrade',
    bytes: (l) =>
      upgrade(l, `${l.upgradePath}`, ['Authorization: Bearer a.b.c', 'Origin: %zz://[']),
  },
  {
    name: 'upgrade with oversize headers',
    needs: 'upgrade',
    bytes: (l) => upgrade(l, `${l.upgradePath}`, [`X-Big: ${'b'.repeat(HUGE)}`]),
  },
];

/** The cases for a listener with these capabilities. */
export function casesFor(caps: Capabilities): MalformedCase[] {
  return MALFORMED_CASES.filter((c) => c.needs === undefined || caps[c.needs] === true);
}

/** What came back on the socket. */
export interface Exchange {
  /** The status of the first response, when one arrived. */
  status: number | undefined;
  /** The server closed (or reset) the socket. */
  closed: boolean;
  /** The first bytes of the answer, for failure messages. */
  head: string;
}

/**
 * Writes `bytes` to a fresh connection and waits until the server closes it (or, when
 * `untilStatus`, until a status line arrived); gives up after `waitMs`, which counts as
 * neither closed nor answered.
 */
export function exchange(
  l: Pick<Listener, 'host' | 'port'>,
  bytes: Buffer,
  opts: { waitMs?: number; untilStatus?: boolean } = {},
): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = connect(l.port, l.host);
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (closed: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      socket.destroy();
      resolve({ status: m ? Number(m[1]) : undefined, closed, head: text.slice(0, 300) });
    };
    const timer = setTimeout(() => finish(false), opts.waitMs ?? 30_000);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (opts.untilStatus && /^HTTP\/1\.[01] \d{3}/.test(Buffer.concat(chunks).toString('latin1')))
        finish(false);
    });
    // A reset (the server closing while we still write) is a close too.
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('connect', () => socket.write(bytes, () => undefined));
  });
}

/**
 * Why the exchange does not satisfy the case, or `undefined` when it does: a required
 * status (any 4xx by default) or, without one, a socket the server closed. A 5xx, a 2xx
 * or an open socket that never answered fails.
 */
export function verdict(c: MalformedCase, x: Exchange): string | undefined {
  if (x.status === undefined) {
    return x.closed ? undefined : 'no answer and the socket stayed open';
  }
  const ok = c.statuses ? c.statuses.includes(x.status) : x.status >= 400 && x.status < 500;
  return ok
    ? undefined
    : `answered ${x.status}, wanted ${c.statuses?.join(' or ') ?? 'a 4xx'}: ${JSON.stringify(x.head)}`;
}

/**
 * Runs one case against a listener: the malformed exchange must satisfy {@link verdict},
 * and the listener must then answer a normal GET of its health path with a 2xx. Throws an
 * error that says which failed.
 */
export async function checkCase(l: Listener, c: MalformedCase): Promise<void> {
  // Upgrades that are accepted stay open: only the status line matters there.
  const x = await exchange(l, c.bytes(l), { untilStatus: c.needs === 'upgrade' });
  const why = verdict(c, x);
  if (why) throw new Error(`${c.name}: ${why}`);
  await assertServing(l);
}

/** The listener answers a well-formed GET of its health path with a 2xx. */
export async function assertServing(l: Listener): Promise<void> {
  const res = await fetch(`http://${l.host}:${l.port}${l.healthPath}`, {
    signal: AbortSignal.timeout(10_000),
  }).catch((err: unknown) => {
    throw new Error(`the listener on ${l.port} no longer answers ${l.healthPath}`, { cause: err });
  });
  await res.arrayBuffer();
  if (res.status < 200 || res.status >= 300) {
    throw new Error(`${l.healthPath} answered ${res.status} after the malformed request`);
  }
}
