/**
 * The SDK's side of sessions that end (issue 13 §2), through real api, engine and gateway
 * processes with 3 s access tokens: the connection re-authenticates in band before its
 * token expires instead of being dropped, the browser factory connects with a single-use
 * ticket (never the access token in the URL), and a revoked session ends the connection.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { API_PATHS, CLOSE_CODES, type ServerFrame } from '@gossip/protocol';
import { randomBytes } from 'node:crypto';
import { ApiClient } from '../src/api.js';
import { GossipClient } from '../src/gossip.js';
import { MemoryKeyStore } from '../src/keystore.js';
import { nodeWebSocketFactory } from '../src/node/ws.js';
import { GatewayConnection, type ConnectionClosed } from '../src/ws/connection.js';
import { apiTokenSource } from '../src/ws/token-source.js';
import { queryTokenFactory, type WebSocketConstructor } from '../src/ws/socket.js';
import { DeliveryStack, eventually, sleep, type Gw } from './delivery-stack.js';

const stack = new DeliveryStack();
let gw: Gw;
const connections: GatewayConnection[] = [];

before(async () => {
  await stack.startApi({ API_ACCESS_TOKEN_TTL_SECONDS: '3' });
  await stack.startEngine();
  gw = await stack.startGateway();
});

after(async () => {
  await Promise.allSettled(connections.map((c) => c.close()));
  await stack.close();
});

function watch(c: GatewayConnection) {
  connections.push(c);
  const closed: ConnectionClosed[] = [];
  const frames: ServerFrame[] = [];
  const fatal: Error[] = [];
  c.on('closed', (e) => closed.push(e));
  c.on('frame', (f) => frames.push(f));
  c.on('error', (e) => {
    if (e.fatal) fatal.push(e.error);
  });
  return { closed, frames, fatal };
}

describe('SDK sessions', () => {
  it('re-authenticates in band: one socket outlives several 3 s tokens', async () => {
    const gossip = await stack.user('reauth');
    const c = new GatewayConnection({
      url: gw.wsUrl,
      token: apiTokenSource(gossip.api),
      webSocket: nodeWebSocketFactory(),
    });
    const seen = watch(c);
    c.start();
    await eventually(() => c.state === 'open', 'the connection opens', 10_000);
    // Three token lifetimes: without `auth`, the gateway closes the socket with 4401 at
    // the first expiry and the SDK reconnects.
    await sleep(8000);
    assert.deepEqual(
      seen.closed.map((x) => x.code),
      [],
      'the socket was never closed',
    );
    assert.equal(c.epoch, 1);
    assert.ok(
      seen.frames.filter((f) => f.type === 'authenticated').length >= 2,
      `re-authenticated: ${JSON.stringify(seen.frames.map((f) => f.type))}`,
    );
    await c.close();
  });

  it('the browser factory connects with a single-use ticket, never the access token', async () => {
    const gossip = await stack.user('ticket');
    const urls: string[] = [];
    // A WHATWG-style constructor over ws that records the URL it is asked to open.
    const Recording = class extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        urls.push(url);
        super(url, protocols);
      }
    } as unknown as WebSocketConstructor;
    const c = new GatewayConnection({
      url: gw.wsUrl,
      token: apiTokenSource(gossip.api),
      webSocket: queryTokenFactory(Recording),
    });
    watch(c);
    c.start();
    await eventually(() => c.state === 'open', 'the connection opens', 10_000);
    const token = gossip.api.currentSession!.accessToken;
    assert.equal(urls.length, 1);
    assert.match(urls[0]!, /[?&]ticket=/);
    assert.ok(!urls[0]!.includes(token), 'the access token is not in the URL');
    assert.ok(!urls[0]!.includes('access_token'));
    await c.close();
  });

  it('a session revoked elsewhere ends the connection for good', async () => {
    const username = `revoked_${randomBytes(4).toString('hex')}`;
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const gossip = new GossipClient({
      api: new ApiClient({ baseUrl: stack.api.url }),
      keyStore: new MemoryKeyStore(),
    });
    await gossip.register({ username, password });
    const c = new GatewayConnection({
      url: gw.wsUrl,
      token: apiTokenSource(gossip.api),
      webSocket: nodeWebSocketFactory(),
      backoffInitialMs: 50,
    });
    const seen = watch(c);
    c.start();
    await eventually(() => c.state === 'open', 'the connection opens', 10_000);
    // The same account logs out everywhere from another device.
    const other = new ApiClient({ baseUrl: stack.api.url });
    await other.login({ username, password });
    await other.request(API_PATHS.mySessions, { method: 'DELETE' });
    await eventually(() => c.state === 'closed', 'the connection ends', 10_000);
    assert.equal(seen.closed[0]?.code, CLOSE_CODES.sessionRevoked);
    assert.equal(seen.fatal.length, 1, 'one fatal error: the session cannot be refreshed');
  });
});
