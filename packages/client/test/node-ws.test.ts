import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { WebSocketServer } from 'ws';
import { CLIENT_MAX_PAYLOAD_BYTES, nodeWebSocketFactory } from '../src/node/ws.js';
import type { SocketCloseEvent } from '../src/ws/socket.js';

// A real ws server on loopback standing in for a hostile or broken gateway.
let server: WebSocketServer;
let url: string;
/** Close codes the server received from the client. */
const serverSaw: number[] = [];

before(async () => {
  server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`;
  server.on('connection', (ws, req) => {
    const size = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('size'));
    ws.on('close', (code) => serverSaw.push(code));
    ws.send('x'.repeat(size));
  });
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

function receive(size: number): Promise<{ message?: number; closed?: SocketCloseEvent }> {
  return new Promise((resolve) => {
    const ws = nodeWebSocketFactory()(`${url}?size=${size}`, ['gossip.v1'], 'token');
    ws.onmessage = (ev) => {
      resolve({ message: String(ev.data).length });
      ws.close();
    };
    ws.onclose = (ev) => resolve({ closed: ev });
  });
}

test('the Node client takes a frame up to its maxPayload', async () => {
  assert.deepEqual(await receive(CLIENT_MAX_PAYLOAD_BYTES), { message: CLIENT_MAX_PAYLOAD_BYTES });
});

test('a frame over maxPayload closes the socket with 1009 instead of being buffered', async () => {
  const r = await receive(CLIENT_MAX_PAYLOAD_BYTES + 1);
  assert.equal(r.message, undefined, 'the oversized frame must not be delivered');
  assert.ok(r.closed, 'the socket closes');
  // The client tells the server why: 1009, message too big.
  for (let i = 0; i < 100 && !serverSaw.includes(1009); i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.ok(serverSaw.includes(1009), `server saw close codes ${serverSaw.join(',')}`);
});
