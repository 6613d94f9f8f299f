import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  guardRequests,
  guardUpgrades,
  onClientError,
  rawResponse,
  serverOptions,
} from '../src/index.js';

test('serverOptions refuses a request timeout shorter than the headers timeout', () => {
  assert.throws(
    () => serverOptions({ headersTimeoutMs: 5000, requestTimeoutMs: 1000 }),
    /requestTimeoutMs \(1000\) must be at least headersTimeoutMs \(5000\)/,
  );
  const o = serverOptions({ headersTimeoutMs: 2000, requestTimeoutMs: 4000 });
  assert.equal(o.headersTimeout, 2000);
  assert.equal(o.requestTimeout, 4000);
  // Checked often enough that the timeout holds, not once every 30 s.
  assert.ok((o.connectionsCheckingInterval ?? 30_000) <= 2000);
});

test('rawResponse is a complete HTTP response with a catalog body', () => {
  const text = rawResponse(431, 'Request Header Fields Too Large', 'headers_too_large');
  const [headText, body] = text.split('\r\n\r\n');
  assert.match(headText ?? '', /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
  assert.match(headText ?? '', new RegExp(`Content-Length: ${Buffer.byteLength(body ?? '')}`));
  assert.equal(JSON.parse(body ?? '').error.code, 'headers_too_large');
});

describe('a guarded node:http server', () => {
  let server: Server;
  let port = 0;
  const errors: unknown[] = [];
  const log = { error: (obj: object) => void errors.push(obj) };

  before(async () => {
    server = createServer(
      serverOptions({ headersTimeoutMs: 300, requestTimeoutMs: 600 }),
      guardRequests((req, res) => {
        if (req.url === '/throw') throw new Error('sync');
        if (req.url === '/reject') return Promise.reject(new Error('async'));
        res.writeHead(200).end('ok');
      }, log),
    );
    server.on('clientError', onClientError);
    server.on(
      'upgrade',
      guardUpgrades(() => Promise.reject(new Error('upgrade failed')), log),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });

  /** Writes raw bytes (servicekit cannot use @gossip/testenv's corpus: it is below it). */
  const get = (head: string): Promise<{ status?: number; closed: boolean; head: string }> =>
    new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1');
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
      socket.on('error', () => undefined);
      socket.on('close', () => {
        const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
        resolve({ status: m ? Number(m[1]) : undefined, closed: true, head: text });
      });
      socket.write(head);
    });

  test('a handler that throws or rejects answers 500 and the server keeps serving', async () => {
    for (const path of ['/throw', '/reject']) {
      const x = await get(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.equal(x.status, 500, x.head);
      assert.match(x.head, /"code":"internal"/);
    }
    const ok = await get('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(ok.status, 200);
    assert.equal(errors.length, 2);
  });

  test('an upgrade handler that rejects answers 500 and closes the socket', async () => {
    const x = await get(
      'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
    );
    assert.equal(x.status, 500, x.head);
    assert.equal(x.closed, true);
  });

  test('what the parser refuses gets a JSON 400, 431 or 408 with a catalog code', async () => {
    const bad = await get('GET / HTTP/1.1\r\nHost: x\r\nX Bad: 1\r\n\r\n');
    assert.equal(bad.status, 400);
    assert.match(bad.head, /"code":"bad_request"/);
    const big = await get(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`);
    assert.ok(big.status === 431 || (big.status === undefined && big.closed), big.head);
    const slow = await get('GET / HTTP/1.1\r\nHost: x\r\nX-Slow: 1');
    assert.equal(slow.status, 408, slow.head);
    assert.match(slow.head, /"code":"request_timeout"/);
  });
});
