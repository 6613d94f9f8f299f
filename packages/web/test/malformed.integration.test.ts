/**
 * The web server (what `npm start` serves on :8000) against the malformed-input corpus of
 * @gossip/testenv, with a real api and gateway behind it: its own paths, what it proxies
 * to the api (`/v1/*`, so `GET /v1/users?%=1` goes through it as the issue saw) and the
 * `/ws` upgrade it forwards. Every case ends in a 4xx or a closed socket, and the web
 * server and the api still answer afterwards.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { API_PATHS, WS_PATH } from '@gossip/protocol';
import { casesFor, checkCase, type Listener } from '@gossip/testenv';
// The delivery services' test stack lives with the gateway's tests; the web reuses it.
import { Stack, type Service } from '../../../services/gateway/test/support/stack.js';
import { startWebServer, type WebServer } from '../src/index.js';

describe('web server: malformed input', () => {
  const stack = new Stack('web-malformed');
  let api: Service;
  let web: WebServer;
  let listener: Listener;

  before(async () => {
    api = await stack.startApi();
    const gw = await stack.startGateway();
    // A stand-in page: the corpus is about the server, not the built client.
    const root = mkdtempSync(join(tmpdir(), 'gossip-web-'));
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>t</title>');
    web = await startWebServer({
      root,
      apiUrl: api.url,
      gatewayUrl: gw.url,
      port: 0,
      // Short, so the slow-client cases end soon; the cases do not measure them.
      headersTimeoutMs: 500,
      requestTimeoutMs: 1000,
    });
    listener = {
      host: '127.0.0.1',
      port: web.port,
      healthPath: '/healthz',
      // Proxied to the api, which wants a token: a well-formed GET is a 401.
      probePath: API_PATHS.search,
      jsonPath: API_PATHS.login,
      upgradePath: WS_PATH,
    };
  });
  after(async () => {
    await web?.close();
    await stack.close();
  });

  for (const c of casesFor({ json: true, upgrade: true })) {
    test(`refuses ${c.name} and keeps serving`, async () => {
      await checkCase(listener, c);
      const res = await fetch(`${api.url}/healthz`);
      assert.equal(res.status, 200, 'the api behind the web server still answers');
    });
  }
});
