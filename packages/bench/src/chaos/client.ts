/**
 * The chaos suite's users: each one is the real SDK (`@gossip/client`'s `GossipClient`
 * and `Messenger`, real keys and end-to-end encryption included) with the `Messenger`'s
 * counting hooks wired to the {@link Tracker}. What the suite adds around the SDK is thin
 * and named: a socket factory that can drop the connection abruptly (a phone losing its
 * network), an api base that follows the api's restarts to a new port, a count of token
 * fetches that failed, and a fresh password login when the session is gone for good (as
 * an application's login screen would do).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay } from '@gossip/limits';
import {
  ApiClient,
  apiTokenSource,
  GossipClient,
  MemoryKeyStore,
  Messenger,
  NotLoggedInError,
  type MessengerHooks,
  type TokenSource,
  type WebSocketFactory,
  type WebSocketLike,
} from '@gossip/client';
import { nodeWebSocketFactory } from '@gossip/client/node';
import type { Tracker } from './tracker.js';

/** Per-request timeout of the users' api calls (ms): a killed api must not hang them. */
const API_TIMEOUT_MS = 5000;

/**
 * A `fetch` for an `ApiClient` made with base `first` that sends every request to the
 * api's current base instead: a restarted api listens on a new port, where a deployment
 * would keep one address in front of it.
 */
function followingApi(first: string, current: () => string): typeof fetch {
  return (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    return fetch(url.startsWith(first) ? current() + url.slice(first.length) : url, init);
  };
}

/** What a {@link ChaosUser} works with. */
export interface ChaosUserOptions {
  username: string;
  password: string;
  /** The api's current base URL (it changes when the api is restarted). */
  apiUrl: () => string;
  tracker: Tracker;
}

/** One chat user: a registered account, then a connected `Messenger` on the real SDK. */
export class ChaosUser {
  readonly gossip: GossipClient;
  private messenger: Messenger | undefined;
  private socket: WebSocketLike | undefined;
  private stopped = false;
  private relogging = false;

  constructor(private readonly o: ChaosUserOptions) {
    const first = o.apiUrl();
    this.gossip = new GossipClient({
      api: new ApiClient({
        baseUrl: first,
        fetch: followingApi(first, o.apiUrl),
        timeoutMs: API_TIMEOUT_MS,
      }),
      keyStore: new MemoryKeyStore(),
    });
  }

  get username(): string {
    return this.o.username;
  }

  get password(): string {
    return this.o.password;
  }

  /** Registers the account through the SDK (its key pairs are generated here). */
  async register(): Promise<void> {
    await this.gossip.register({ username: this.o.username, password: this.o.password });
  }

  /**
   * Connects the `Messenger` to the gateways (`urls`, tried in turn after each drop) and
   * resolves once it is open. `seenLimit` is the SDK's handled-id memory.
   */
  async start(urls: readonly string[], seenLimit: number): Promise<void> {
    const t = this.o.tracker;
    const m = new Messenger({
      gossip: this.gossip,
      url: urls,
      webSocket: this.droppable(nodeWebSocketFactory({ handshakeTimeoutMs: 5000 })),
      token: this.countedTokens(apiTokenSource(this.gossip.api)),
      seenLimit,
      hooks: this.hooks(),
      // The application: the only place "shown" is counted.
      onMessage: (msg) => t.show(msg.id),
    });
    this.messenger = m;
    m.connection.on('open', () => void t.phase.reconnects++);
    // Every error frame, by code (the SDK handles the retryable ones without an event).
    m.connection.on('frame', (f) => {
      if (f.type === 'error') t.error(f.code);
    });
    m.on('error', (e) => {
      if (e.kind === 'connection' && e.fatal) void this.relogin();
    });
    await m.start();
    await m.waitUntilOpen(60_000);
  }

  /**
   * Asks the SDK to send one message to `to` (the open-loop load: called on schedule
   * whatever the system is doing). The message counts as created now; one the SDK could
   * not even queue counts as refused.
   */
  send(to: string): void {
    const t = this.o.tracker;
    const ask = t.ask();
    // The `accepted` frame is a later macrotask than this promise's settling.
    this.messenger!.send(to, `chaos ${ask.key}`).then(
      ({ id }) => t.created(id, ask),
      (err: unknown) => t.unqueued(ask, err instanceof Error ? err.name : 'error'),
    );
  }

  /** Drops the connection abruptly (as a phone losing its network would). */
  drop(): void {
    (this.socket as unknown as { terminate?: () => void } | undefined)?.terminate?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.messenger?.stop();
  }

  private hooks(): MessengerHooks {
    const t = this.o.tracker;
    return {
      onAccepted: (id) => t.accepted(id),
      onReceived: (f) => {
        if (f.type === 'deliver') t.wire(f.id);
      },
      onDuplicate: (id) => t.duplicate(id),
      onDelivered: (id) => t.receipt(id),
      onFailed: (id, _frame, code) => t.refused(id, code),
    };
  }

  /** The SDK's socket factory, keeping the latest socket so {@link drop} can cut it. */
  private droppable(factory: WebSocketFactory): WebSocketFactory {
    const f: WebSocketFactory = (url, protocols, token) =>
      (this.socket = factory(url, protocols, token));
    if (factory.credential) f.credential = factory.credential;
    return f;
  }

  /** The SDK's token source, counting fetches that failed (the SDK retries them). */
  private countedTokens(tokens: TokenSource): TokenSource {
    const t = this.o.tracker;
    return {
      accessToken: async (refresh) => {
        try {
          return await tokens.accessToken(refresh);
        } catch (err) {
          if (!(err instanceof NotLoggedInError)) t.phase.tokenRetries++;
          throw err;
        }
      },
    };
  }

  /**
   * The session is gone (a refresh token is single use: one spent by a request whose
   * answer never came back, the api having been killed, is refused next time), and the
   * SDK closed the connection for good: log in again with the password, then reconnect.
   */
  private async relogin(): Promise<void> {
    if (this.relogging || this.stopped) return;
    this.relogging = true;
    try {
      for (let attempt = 0; !this.stopped; attempt++) {
        try {
          await this.gossip.login(this.o.username, this.o.password);
          this.o.tracker.phase.relogins++;
          this.messenger?.connection.start();
          return;
        } catch {
          this.o.tracker.phase.tokenRetries++;
          await sleep(backoffDelay(attempt, { initialMs: 100, maxMs: 2000, jitter: 'equal' }));
        }
      }
    } finally {
      this.relogging = false;
    }
  }
}
