/** The `GatewayConnection`'s options, events and states (types only). */
import type { ServerFrame } from '@gossip/protocol';
import type { WebSocketFactory } from './socket.js';
import type { TokenSource } from './token-source.js';

/** Where a connection is in its life. */
export type TransportState = 'connecting' | 'open' | 'closed';

export interface GatewayConnectionOptions {
  /** The gateway WebSocket URL(s), e.g. `ws://127.0.0.1:8081/ws`; reconnects rotate through them. */
  url: string | readonly string[];
  token: TokenSource;
  /** @default the global WebSocket, token in the query string */
  webSocket?: WebSocketFactory;
  /** Refuse a gateway that says we are someone else. */
  expectedUsername?: string;
  /** First reconnect delay (ms); doubles per failed attempt. @default 250 */
  backoffInitialMs?: number;
  /** Longest reconnect delay (ms). @default 30000 */
  backoffMaxMs?: number;
  /** How often to send `ping` (ms). @default 20000 */
  pingIntervalMs?: number;
  /** No frame for this long after a `ping` means the link is dead (ms). @default 10000 */
  pongTimeoutMs?: number;
  /** The `hello` must arrive within this (ms) of starting to connect. @default 10000 */
  connectTimeoutMs?: number;
  /** @default Math.random */
  random?: () => number;
  /**
   * Send `auth` with a fresh token this long before the gateway's expiry of the current one
   * (at most half its remaining life). @default 60000
   */
  reauthLeadMs?: number;
  /**
   * Allow plain `ws://` to a host that is not loopback; without it such a URL throws
   * `InsecureTransportError`. @default false
   */
  allowInsecure?: boolean;
}

/** Why a physical connection ended. */
export interface ConnectionClosed {
  url: string;
  code: number;
  reason: string;
  /** Whether it had got as far as `hello`. */
  wasOpen: boolean;
}

export interface ConnectionEvents extends Record<string, unknown> {
  frame: ServerFrame;
  state: TransportState;
  /** A new physical connection said `hello`. `epoch` counts connections. */
  open: { url: string; username: string; epoch: number };
  closed: ConnectionClosed;
  /** A reconnect is scheduled in `delayMs`. */
  reconnecting: { delayMs: number; attempt: number; url: string };
  /** Cannot connect right now (will retry), or cannot at all (`fatal`: state is `closed`). */
  error: { error: Error; fatal: boolean };
}
