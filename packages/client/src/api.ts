/**
 * The REST client: a thin, typed layer over `fetch` for the api's `/v1` endpoints.
 *
 * It keeps the session (access and refresh token) in memory, sends the access token
 * on authenticated calls, and when one of them answers 401 it refreshes the session
 * once (single-flight: concurrent 401s share one refresh, because refresh tokens are
 * single use) and retries the call once. Whoever wants the session to outlive the
 * process persists it through `onSession`.
 */
import {
  API_PATHS,
  apiPath,
  isErrorCode,
  type ChangeKeysRequest,
  type ContactList,
  type KeysResponse,
  type LoginRequest,
  type Me,
  type PrekeyBundle,
  type PrekeyStatus,
  type Profile,
  type RegisterRequest,
  type SearchQuery,
  type SearchResponse,
  type Session,
  type WsTicket,
  type UpdateProfileRequest,
  type UploadPrekeysRequest,
} from '@gossip/protocol';
import { ApiError, NetworkError, NotLoggedInError } from './errors.js';
import { checkTransportUrl } from './transport-security.js';

/** What has to be kept to resume a session later. */
export interface SessionTokens {
  username: string;
  accessToken: string;
  /** Milliseconds since the epoch when the access token expires. */
  accessExpiresAt: number;
  refreshToken: string;
  /** Milliseconds since the epoch when the refresh token expires. */
  refreshExpiresAt: number;
}

export interface ApiClientOptions {
  /** The api's base URL, for example `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** A session to resume. */
  session?: SessionTokens | null;
  /** Called whenever the session changes (login, refresh, logout: null). */
  onSession?: (session: SessionTokens | null) => void | Promise<void>;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Per-request timeout. @default 15000 */
  timeoutMs?: number;
  /**
   * Allow plain `http://` to a host that is not loopback (passwords and tokens then cross
   * the network in clear). Without it such a `baseUrl` throws `InsecureTransportError`.
   * @default false
   */
  allowInsecure?: boolean;
}

interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  body?: unknown;
  /** A raw body instead of JSON (avatar upload). */
  raw?: { data: Uint8Array; contentType: string };
  query?: Record<string, string | number | undefined>;
  /** Send the access token (and refresh on 401). @default true */
  auth?: boolean;
  /** Return `{ contentType, data }` instead of parsing JSON. */
  binary?: boolean;
  /** Return the `Response` of a successful call unread (a streamed download). */
  response?: boolean;
  /** Extra request headers (`Content-Range`, `Range`). */
  headers?: Record<string, string>;
  /** This request's timeout, body included (ms). @default the client's `timeoutMs` */
  timeoutMs?: number;
}

/** Converts a protocol `Session` into the tokens to keep. */
export function toSessionTokens(s: Session, now = Date.now()): SessionTokens {
  return {
    username: s.user.username,
    accessToken: s.accessToken,
    accessExpiresAt: now + s.expiresIn * 1000,
    refreshToken: s.refreshToken,
    refreshExpiresAt: now + s.refreshExpiresIn * 1000,
  };
}

/** Typed access to the api's REST endpoints. */
export class ApiClient {
  readonly baseUrl: string;
  /** Whether plain http:// (and, for the Messenger, ws://) beyond loopback was allowed. */
  readonly allowInsecure: boolean;
  private session: SessionTokens | null;
  private refreshing: Promise<SessionTokens> | null = null;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;
  private readonly onSession: ApiClientOptions['onSession'];

  constructor(opts: ApiClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.allowInsecure = opts.allowInsecure ?? false;
    checkTransportUrl(this.baseUrl, this.allowInsecure);
    this.session = opts.session ?? null;
    this.onSession = opts.onSession;
    this.fetchImpl = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.timeoutMs = opts.timeoutMs ?? 15_000;
  }

  /** The current session, if logged in. */
  get currentSession(): SessionTokens | null {
    return this.session;
  }

  // ------------------------------------------------------------ accounts and sessions

  /** Creates an account with its public keys and logs it in. */
  async register(req: RegisterRequest): Promise<Session> {
    const s = await this.request<Session>(API_PATHS.register, {
      method: 'POST',
      body: req,
      auth: false,
    });
    await this.setSession(toSessionTokens(s));
    return s;
  }

  /** Logs in. A wrong username and a wrong password give the same `invalid_credentials`. */
  async login(req: LoginRequest): Promise<Session> {
    const s = await this.request<Session>(API_PATHS.login, {
      method: 'POST',
      body: req,
      auth: false,
    });
    await this.setSession(toSessionTokens(s));
    return s;
  }

  /** Exchanges the refresh token for a new session (the old refresh token is spent). */
  async refresh(): Promise<SessionTokens> {
    this.refreshing ??= (async () => {
      const current = this.session;
      if (!current) throw new NotLoggedInError();
      try {
        const s = await this.request<Session>(API_PATHS.refresh, {
          method: 'POST',
          body: { refreshToken: current.refreshToken },
          auth: false,
        });
        const tokens = toSessionTokens(s);
        await this.setSession(tokens);
        return tokens;
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) {
          await this.setSession(null);
          throw new NotLoggedInError('the session expired or was revoked; log in again');
        }
        throw err;
      }
    })().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  /** Revokes the refresh token on the server and forgets the session. */
  async logout(): Promise<void> {
    const current = this.session;
    if (!current) return;
    try {
      await this.request<unknown>(API_PATHS.logout, {
        method: 'POST',
        body: { refreshToken: current.refreshToken },
        auth: false,
      });
    } finally {
      await this.setSession(null);
    }
  }

  /**
   * A single-use WebSocket ticket (browsers connect with `?ticket=` instead of putting the
   * access token in the URL).
   */
  wsTicket(): Promise<WsTicket> {
    return this.request<WsTicket>(API_PATHS.wsTicket, { method: 'POST' });
  }

  /** The logged-in account. */
  me(): Promise<Me> {
    return this.request<Me>(API_PATHS.me);
  }

  /** Deletes the account and everything the server holds for it. */
  async deleteAccount(password: string): Promise<void> {
    await this.request<unknown>(API_PATHS.me, { method: 'DELETE', body: { password } });
    await this.setSession(null);
  }

  // ------------------------------------------------------------ keys

  /** A user's published public keys. */
  getUserKeys(username: string): Promise<KeysResponse> {
    return this.request<KeysResponse>(apiPath(API_PATHS.userKeys, username));
  }

  /** Replaces the caller's published keys (contacts will see a key change). */
  changeKeys(req: ChangeKeysRequest): Promise<KeysResponse> {
    return this.request<KeysResponse>(API_PATHS.myKeys, { method: 'PUT', body: req });
  }

  // ------------------------------------------------------------ v2 prekeys (issue 16)

  /** What the caller has published in the prekey directory (one-time prekeys left). */
  getPrekeyStatus(): Promise<PrekeyStatus> {
    return this.request<PrekeyStatus>(API_PATHS.myPrekeys);
  }

  /** Publishes the identity key and signed prekey, and adds one-time prekeys (all or nothing). */
  uploadPrekeys(req: UploadPrekeysRequest): Promise<PrekeyStatus> {
    return this.request<PrekeyStatus>(API_PATHS.myPrekeys, { method: 'PUT', body: req });
  }

  /** A user's prekey bundle for starting a v2 session; hands out one one-time prekey. */
  getPrekeyBundle(username: string): Promise<PrekeyBundle> {
    return this.request<PrekeyBundle>(apiPath(API_PATHS.userPrekeyBundle, username));
  }

  // ------------------------------------------------------------ profiles and search

  getProfile(username: string): Promise<Profile> {
    return this.request<Profile>(apiPath(API_PATHS.userProfile, username));
  }

  updateProfile(req: UpdateProfileRequest): Promise<Me> {
    return this.request<Me>(API_PATHS.myProfile, { method: 'PATCH', body: req });
  }

  /** Uploads an avatar (PNG, JPEG or WebP; the api checks the bytes and the size limit). */
  uploadAvatar(
    data: Uint8Array,
    contentType: 'image/png' | 'image/jpeg' | 'image/webp',
  ): Promise<Me> {
    return this.request<Me>(API_PATHS.myAvatar, { method: 'PUT', raw: { data, contentType } });
  }

  deleteAvatar(): Promise<Me> {
    return this.request<Me>(API_PATHS.myAvatar, { method: 'DELETE' });
  }

  /** A user's avatar image. */
  getAvatar(username: string): Promise<{ contentType: string; data: Uint8Array }> {
    return this.request(apiPath(API_PATHS.userAvatar, username), { binary: true });
  }

  /** Username prefix search, paged with `after`. */
  search(q: SearchQuery): Promise<SearchResponse> {
    return this.request<SearchResponse>(API_PATHS.search, {
      query: { prefix: q.prefix, limit: q.limit, after: q.after },
    });
  }

  // ------------------------------------------------------------ contacts

  listContacts(): Promise<ContactList> {
    return this.request<ContactList>(API_PATHS.contacts);
  }

  requestContact(username: string): Promise<unknown> {
    return this.request(apiPath(API_PATHS.contactRequest, username), { method: 'POST', body: {} });
  }

  /** Accepts a request; `keyEnvelope` (from packages/crypto) reaches the requester. */
  acceptContact(username: string, keyEnvelope?: string): Promise<unknown> {
    const body = keyEnvelope === undefined ? {} : { keyEnvelope };
    return this.request(apiPath(API_PATHS.contactAccept, username), { method: 'POST', body });
  }

  rejectContact(username: string): Promise<unknown> {
    return this.request(apiPath(API_PATHS.contactReject, username), { method: 'POST', body: {} });
  }

  removeContact(username: string): Promise<unknown> {
    return this.request(apiPath(API_PATHS.contact, username), { method: 'DELETE', body: {} });
  }

  blockContact(username: string): Promise<unknown> {
    return this.request(apiPath(API_PATHS.contactBlock, username), { method: 'POST', body: {} });
  }

  unblockContact(username: string): Promise<unknown> {
    return this.request(apiPath(API_PATHS.contactUnblock, username), { method: 'POST', body: {} });
  }

  // ------------------------------------------------------------ plumbing

  private async setSession(s: SessionTokens | null): Promise<void> {
    this.session = s;
    await this.onSession?.(s);
  }

  /**
   * Sends one request. Authenticated calls refresh the session once on a 401 and retry;
   * a second 401 is thrown.
   */
  async request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
    const auth = opts.auth ?? true;
    if (!auth) return this.send<T>(path, opts, null);
    if (!this.session) throw new NotLoggedInError();
    try {
      return await this.send<T>(path, opts, this.session.accessToken);
    } catch (err) {
      // Only token problems are worth a refresh: a 401 `invalid_credentials` (a wrong
      // password on delete-account) would only fail again.
      if (!(err instanceof ApiError) || !REFRESHABLE.has(err.code)) throw err;
      const fresh = await this.refresh();
      return this.send<T>(path, opts, fresh.accessToken);
    }
  }

  private async send<T>(path: string, opts: RequestOptions, token: string | null): Promise<T> {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | Uint8Array<ArrayBuffer> | undefined;
    if (opts.raw) {
      headers['content-type'] = opts.raw.contentType;
      body = new Uint8Array(opts.raw.data);
    } else if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    let res: Response;
    try {
      res = await this.fetchImpl(url, {
        method: opts.method ?? 'GET',
        headers,
        body,
        signal: AbortSignal.timeout(opts.timeoutMs ?? this.timeoutMs),
      });
    } catch (err) {
      throw new NetworkError(this.baseUrl, { cause: err });
    }
    if (opts.response && res.ok) return res as T;
    if (opts.binary && res.ok) {
      const data = new Uint8Array(await res.arrayBuffer());
      return { contentType: res.headers.get('content-type') ?? '', data } as T;
    }
    const text = await res.text();
    let json: unknown = undefined;
    if (text !== '') {
      try {
        json = JSON.parse(text);
      } catch {
        if (res.ok) throw new ApiError(res.status, `http_${res.status}`, 'response is not JSON');
      }
    }
    if (!res.ok) throw toApiError(res.status, json);
    return json as T;
  }
}

const REFRESHABLE = new Set<string>(['token_expired', 'invalid_token', 'unauthorized']);

function toApiError(status: number, json: unknown): ApiError {
  const e = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  if (e && isErrorCode(e.code)) {
    return new ApiError(status, e.code, typeof e.message === 'string' ? e.message : e.code);
  }
  return new ApiError(status, `http_${status}`, `the server answered HTTP ${status}`);
}
