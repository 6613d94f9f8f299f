/**
 * The web server on its own: static files with the page's security headers, the
 * single-page fallback, no escape from the root, and the two forwards (`/v1` over HTTP,
 * `/ws` as a WebSocket upgrade) to stand-in upstreams on loopback.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { startWebServer, type WebServer } from '../src/server.js';

let root: string;
let api: Server;
let gateway: Server;
let wss: WebSocketServer;
let web: WebServer;
let lastApi: { method?: string; url?: string; headers: IncomingHttpHeaders; body: string };
let lastUpgrade: { url?: string; headers: IncomingHttpHeaders } | undefined;

const listen = (s: Server): Promise<string> =>
  new Promise((ok) =>
    s.listen(0, '127.0.0.1', () => ok(`http://127.0.0.1:${(s.address() as AddressInfo).port}`)),
  );

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'gossip-web-'));
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>page</title>');
  mkdirSync(join(root, 'assets'));
  writeFileSync(join(root, 'assets', 'app-abc123.js'), 'console.log(1)');
  writeFileSync(join(tmpdir(), 'gossip-web-secret.txt'), 'outside the root');

  api = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      lastApi = { method: req.method, url: req.url, headers: req.headers, body };
      res.writeHead(201, { 'content-type': 'application/json', 'x-upstream': 'api' });
      res.end('{"ok":true}');
    });
  });
  gateway = createServer();
  wss = new WebSocketServer({ noServer: true, handleProtocols: () => 'gossip.v1' });
  gateway.on('upgrade', (req, socket, head) => {
    lastUpgrade = { url: req.url, headers: req.headers };
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (data) => ws.send(`echo:${String(data)}`));
    });
  });
  web = await startWebServer({
    root,
    apiUrl: await listen(api),
    gatewayUrl: await listen(gateway),
    port: 0,
  });
});

after(async () => {
  await web.close();
  wss.close();
  await new Promise((ok) => api.close(ok));
  await new Promise((ok) => gateway.close(ok));
});

test('serves the page with a content security policy and no-cache', async () => {
  const res = await fetch(web.url + '/');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(res.headers.get('cache-control'), 'no-cache');
  assert.match(res.headers.get('content-security-policy') ?? '', /connect-src 'self'/);
  assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
  assert.doesNotMatch(res.headers.get('content-security-policy') ?? '', /unsafe/);
  assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
  assert.match(await res.text(), /<title>page<\/title>/);
});

test('hashed assets are cached for good and typed', async () => {
  const res = await fetch(web.url + '/assets/app-abc123.js');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.match(res.headers.get('cache-control') ?? '', /immutable/);
});

test('unknown paths without an extension get the page; missing files are 404', async () => {
  assert.match(await (await fetch(web.url + '/chat/bob')).text(), /<title>page/);
  assert.equal((await fetch(web.url + '/assets/nope.js')).status, 404);
});

test('a path cannot climb out of the root', async () => {
  // fetch() normalises "..", so send the raw request line.
  for (const path of ['/../gossip-web-secret.txt', '/%2e%2e/gossip-web-secret.txt']) {
    const { status, body } = await new Promise<{ status: number; body: string }>((ok, fail) => {
      const req = request(web.url + '/', { path }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => ok({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', fail);
      req.end();
    });
    assert.ok(!body.includes('outside the root'), `${path} escaped: ${status}`);
  }
});

test('only GET and HEAD are served outside /v1', async () => {
  assert.equal((await fetch(web.url + '/', { method: 'POST', body: 'x' })).status, 405);
});

test('/v1 is forwarded to the api with method, path, query, headers and body', async () => {
  const res = await fetch(web.url + '/v1/auth/login?x=1', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: 'Bearer t0k',
      'x-forwarded-for': '6.6.6.6',
    },
    body: '{"username":"alice"}',
  });
  assert.equal(res.status, 201);
  assert.equal(res.headers.get('x-upstream'), 'api');
  assert.deepEqual(await res.json(), { ok: true });
  assert.equal(lastApi.method, 'POST');
  assert.equal(lastApi.url, '/v1/auth/login?x=1');
  assert.equal(lastApi.headers.authorization, 'Bearer t0k');
  assert.equal(lastApi.headers['x-forwarded-for'], '127.0.0.1');
  assert.equal(lastApi.body, '{"username":"alice"}');
});

test("the api's own connection headers are not passed on: Connection: close closes", async () => {
  // The web server keeps a pooled keep-alive connection to the api; its answer says so
  // (connection: keep-alive, keep-alive: timeout=...), which is about that hop only.
  const { headers, closed } = await new Promise<{
    headers: IncomingHttpHeaders;
    closed: boolean;
  }>((ok, fail) => {
    const req = request(web.url + '/v1/auth/login', {
      method: 'POST',
      agent: false,
      headers: { connection: 'close', 'content-type': 'application/json' },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => {
        const socket = req.socket;
        if (socket?.destroyed) ok({ headers: res.headers, closed: true });
        else socket?.once('close', () => ok({ headers: res.headers, closed: true }));
      });
    });
    req.on('error', fail);
    req.end('{}');
  });
  assert.equal(headers['x-upstream'], 'api');
  assert.equal(headers.connection, 'close');
  assert.equal(headers['keep-alive'], undefined);
  assert.ok(closed, 'the web server closed the socket');
});

test('/ws is forwarded as a WebSocket upgrade, token query and subprotocol included', async () => {
  const wsUrl = web.url.replace('http:', 'ws:') + '/ws?access_token=abc';
  const ws = new WebSocket(wsUrl, ['gossip.v1'], { headers: { origin: web.url } });
  await new Promise((ok, fail) => {
    ws.once('open', ok);
    ws.once('error', fail);
  });
  assert.equal(ws.protocol, 'gossip.v1');
  const reply = new Promise<string>((ok) => ws.once('message', (d) => ok(String(d))));
  ws.send('ping');
  assert.equal(await reply, 'echo:ping');
  assert.equal(lastUpgrade?.url, '/ws?access_token=abc');
  assert.equal(lastUpgrade?.headers.origin, web.url);
  ws.close();
});

test('other upgrade paths are refused', async () => {
  const ws = new WebSocket(web.url.replace('http:', 'ws:') + '/elsewhere');
  const err = await new Promise<Error>((ok) => ws.once('error', ok));
  assert.match(err.message, /404/);
});

test('an unreachable api is a 502 with an error body, and a missing build says how to build', async () => {
  const dead = await startWebServer({
    root: join(root, 'not-built'),
    apiUrl: 'http://127.0.0.1:1',
    gatewayUrl: 'http://127.0.0.1:1',
    port: 0,
  });
  try {
    const res = await fetch(dead.url + '/v1/users/x/keys');
    assert.equal(res.status, 502);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'unavailable');
    const page = await fetch(dead.url + '/');
    assert.equal(page.status, 404);
    assert.match(await page.text(), /npm start/);
    const ws = new WebSocket(dead.url.replace('http:', 'ws:') + '/ws');
    const err = await new Promise<Error>((ok) => ws.once('error', ok));
    assert.match(err.message, /502/);
  } finally {
    await dead.close();
  }
});
