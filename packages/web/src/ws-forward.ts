/**
 * The web server's `/ws` forward: a WebSocket upgrade is passed to the gateway byte for
 * byte (the request head is replayed, then both sockets are piped together), so the
 * gateway itself answers the handshake.
 *
 * Kept by hand, not `@fastify/http-proxy`'s `websocket: true`: that mode accepts the
 * browser's handshake itself (101) and only then dials the gateway, so a refused origin
 * or ticket (the gateway's 401/403), a malformed upgrade and an unreachable gateway
 * (502) would all look like an accepted socket that closes at once. The client tells
 * them apart by the handshake's answer (`refusedCloseCode`), and the malformed-input
 * corpus requires the 4xx.
 */
import type { IncomingMessage, Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { forwardedHeaders, pathOf } from './forwarding.js';

/** Handles every upgrade on `server`: `path` goes to `target`, anything else is a 404. */
export function forwardUpgrades(server: Server, path: string, target: URL): { close(): void } {
  const sockets = new Set<Duplex>();
  const track = (s: Duplex): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    track(socket);
    if (pathOf(req.url) !== path) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    try {
      pipeUpgrade(req, socket, head, target, track);
    } catch {
      socket.destroy();
    }
  });
  return {
    close: () => {
      for (const s of sockets) s.destroy();
    },
  };
}

function pipeUpgrade(
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  target: URL,
  track: (s: Duplex) => void,
): void {
  const upstream: Socket = connect(Number(target.port || 80), target.hostname);
  track(upstream);
  let connected = false;
  const fail = (): void => {
    upstream.destroy();
    client.destroy();
  };
  upstream.on('close', () => client.destroy());
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
    const headers = { ...req.headers, ...forwardedHeaders(req) };
    let raw = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\n`;
    for (const [k, v] of Object.entries(headers)) {
      if (v === undefined) continue;
      for (const one of Array.isArray(v) ? v : [v]) raw += `${k}: ${one}\r\n`;
    }
    upstream.write(raw + '\r\n');
    if (head.length > 0) upstream.write(head);
    upstream.setNoDelay(true);
    client.pipe(upstream);
    upstream.pipe(client);
  });
}
