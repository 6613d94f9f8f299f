/**
 * Bench users on the real SDK: each one a `GossipClient` registered through the api (its
 * own keys, in memory) and a `Messenger` on a gateway, so what the bench times is the
 * code users run, encryption and the SDK's delivery core included.
 */
import { randomBytes } from 'node:crypto';
import {
  ApiClient,
  GossipClient,
  MemoryKeyStore,
  Messenger,
  type MessengerHooks,
  type WebSocketFactory,
} from '@gossip/client';
import { nodeWebSocketFactory } from '@gossip/client/node';

/** A new user `<prefix>_<random>` registered on the api at `apiUrl`. */
export async function sdkUser(apiUrl: string, prefix: string): Promise<GossipClient> {
  const gossip = new GossipClient({
    api: new ApiClient({ baseUrl: apiUrl }),
    keyStore: new MemoryKeyStore(),
  });
  await gossip.register({
    username: `${prefix}_${randomBytes(4).toString('hex')}`,
    password: `pw-${randomBytes(8).toString('hex')}`,
  });
  return gossip;
}

/** `a` asks `b` to be a contact and `b` accepts, as the apps do. */
export async function makeContacts(a: GossipClient, b: GossipClient): Promise<void> {
  await a.api.requestContact(b.username);
  await b.acceptContact(a.username);
}

export interface BenchMessengerOptions {
  /**
   * Frames per second the SDK writes. The bench gateways lift their per-connection limit;
   * at the SDK's default 40/s the client, not the server, would be what is measured.
   * @default 400
   */
  ratePerSecond?: number;
  /** Sends written but not accepted, at most. @default the SDK's (64) */
  maxInFlight?: number;
  /** @default the SDK's (15) */
  ackDelayMs?: number;
  hooks?: MessengerHooks;
  /** @default `nodeWebSocketFactory()` */
  webSocket?: WebSocketFactory;
}

/** A `Messenger` for `gossip` on the gateway at `wsUrl`, the SDK's defaults otherwise. */
export function benchMessenger(
  gossip: GossipClient,
  wsUrl: string,
  o: BenchMessengerOptions = {},
): Messenger {
  const rate = o.ratePerSecond ?? 400;
  return new Messenger({
    gossip,
    url: wsUrl,
    webSocket: o.webSocket ?? nodeWebSocketFactory(),
    ratePerSecond: rate,
    rateBurst: rate,
    ...(o.maxInFlight !== undefined && { maxInFlight: o.maxInFlight }),
    ...(o.ackDelayMs !== undefined && { ackDelayMs: o.ackDelayMs }),
    ...(o.hooks && { hooks: o.hooks }),
  });
}

/** Resolves when `check()` holds, polling every 5 ms; throws after `timeoutMs`. */
export async function until(check: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
