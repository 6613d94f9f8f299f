/**
 * The api's configuration: every `API_*` environment variable, parsed once at start up.
 * Nothing else in the service reads `process.env`.
 */
import { Type } from '@sinclair/typebox';
import {
  parseTrustProxy,
  type TrustProxy,
  DEFAULT_HTTP_TIMEOUTS,
  type HttpTimeouts,
  httpTimeoutsFrom,
  parseEnv,
  parseSigningKeys,
  parseVariable,
  requireOpsPortApart,
  type JwkSet,
  type PublicJwk,
  type SigningKey,
  type VerificationKeys,
} from '@gossip/servicekit';
import {
  attachmentCiphertextBytes,
  DEFAULT_ATTACHMENT_MAX_BYTES,
  DEFAULT_ATTACHMENT_QUOTA_BYTES,
  DEFAULT_ATTACHMENT_RETENTION_SECONDS,
  DEFAULT_ATTACHMENT_UPLOAD_TIMEOUT_SECONDS,
  DEFAULT_MONGO_DB,
  DEFAULT_REDIS_PREFIX,
  JWT_KEY_ENV,
} from '@gossip/protocol';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The variables, their types and defaults. */
export const ApiEnv = Type.Object({
  API_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
  API_HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  /**
   * The ops listener: `/healthz`, `/readyz`, `/metrics` and (when enabled) `/docs`, kept off
   * the public port so metrics and the API description are not served to the internet.
   * 0 picks a free port (tests).
   */
  API_OPS_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 9090 }),
  API_OPS_HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  /** Serve the OpenAPI UI at `/docs` on the ops listener; default: on unless NODE_ENV=production. */
  API_DOCS: Type.Optional(Type.Boolean()),
  API_MONGO_URL: Type.String({ pattern: '^mongodb(\\+srv)?://' }),
  API_MONGO_DB: Type.String({ pattern: '^[A-Za-z0-9_-]{1,63}$', default: DEFAULT_MONGO_DB }),
  API_REDIS_URL: Type.String({ pattern: '^rediss?://' }),
  /** Key prefix for everything the api writes to Redis (and the events channel). */
  API_REDIS_PREFIX: Type.String({ pattern: '^[A-Za-z0-9_.:-]*$', default: DEFAULT_REDIS_PREFIX }),
  /**
   * The access-token signing keys: a JSON JWK set of Ed25519 private keys, each with a
   * `kid`. The first signs; every key in the set verifies (rotation keeps two).
   */
  [JWT_KEY_ENV.apiPrivateKeys]: Type.String({ minLength: 1 }),
  API_LOG_LEVEL: Type.Union(
    LOG_LEVELS.map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
  API_ACCESS_TOKEN_TTL_SECONDS: Type.Integer({ minimum: 1, maximum: 86_400, default: 900 }),
  API_REFRESH_TOKEN_TTL_SECONDS: Type.Integer({ minimum: 60, default: 30 * 86_400 }),
  /**
   * Absolute session lifetime: however often it is refreshed, a session ends this long
   * after its login (refresh then fails with `invalid_token`).
   */
  API_SESSION_MAX_AGE_SECONDS: Type.Integer({ minimum: 1, default: 90 * 86_400 }),
  /** Lifetime of a single-use WebSocket ticket (browsers connect with one, not a token). */
  API_WS_TICKET_TTL_SECONDS: Type.Integer({ minimum: 1, maximum: 300, default: 30 }),
  /**
   * A refresh token presented again this soon after it was used, while the token its
   * rotation issued has never been used, is a client retrying a refresh whose answer it
   * lost (an outage, a timeout): it gets a new pair instead of ending the session. 0: any
   * second use ends the session.
   */
  API_REFRESH_RETRY_GRACE_SECONDS: Type.Integer({ minimum: 0, maximum: 300, default: 30 }),
  /**
   * scrypt cost as log2(N): 17 (N = 2^17, 128 MiB with r = 8) is OWASP's guidance. Hashes
   * made with another value are re-hashed at their next successful login.
   */
  API_SCRYPT_LOG_N: Type.Integer({ minimum: 10, maximum: 20, default: 17 }),
  /** Password hashes computed at once per api process (each takes 128 * N * 8 bytes). */
  API_HASH_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 64, default: 2 }),
  /** Password hashes waiting for a slot; beyond this a login is answered 503. */
  API_HASH_QUEUE: Type.Integer({ minimum: 0, default: 32 }),
  API_LOGIN_WINDOW_SECONDS: Type.Integer({ minimum: 1, default: 300 }),
  API_LOGIN_MAX_PER_IP: Type.Integer({ minimum: 1, default: 50 }),
  /**
   * Login throttle per (username, client address): this many attempts in a row pass
   * without delay; from then on each attempt makes the next wait base * 2^k seconds, up
   * to the maximum. A success clears it; so does this long without an attempt.
   */
  API_LOGIN_FREE_ATTEMPTS: Type.Integer({ minimum: 1, default: 5 }),
  API_LOGIN_DELAY_BASE_SECONDS: Type.Integer({ minimum: 1, default: 1 }),
  API_LOGIN_DELAY_MAX_SECONDS: Type.Integer({ minimum: 1, default: 900 }),
  API_LOGIN_MEMORY_SECONDS: Type.Integer({ minimum: 1, default: 86_400 }),
  /** Account deletion attempts (each checks the password) per user. */
  API_DELETE_WINDOW_SECONDS: Type.Integer({ minimum: 1, default: 3600 }),
  API_DELETE_MAX_PER_USER: Type.Integer({ minimum: 1, default: 5 }),
  /** Contact requests sent per user. */
  API_CONTACT_REQUEST_WINDOW_SECONDS: Type.Integer({ minimum: 1, default: 3600 }),
  API_CONTACT_REQUEST_MAX_PER_USER: Type.Integer({ minimum: 1, default: 50 }),
  /** Other contact changes (accept, reject, remove, block, unblock) per user. */
  API_CONTACT_CHANGE_WINDOW_SECONDS: Type.Integer({ minimum: 1, default: 3600 }),
  API_CONTACT_CHANGE_MAX_PER_USER: Type.Integer({ minimum: 1, default: 200 }),
  /** Key changes per user. */
  API_KEY_CHANGE_WINDOW_SECONDS: Type.Integer({ minimum: 1, default: 86_400 }),
  API_KEY_CHANGE_MAX_PER_USER: Type.Integer({ minimum: 1, default: 10 }),
  /** Prekey bundles fetched per requester (each hands out one of the owner's one-time prekeys). */
  API_PREKEY_BUNDLE_WINDOW_SECONDS: Type.Integer({ minimum: 1, default: 3600 }),
  API_PREKEY_BUNDLE_MAX_PER_USER: Type.Integer({ minimum: 1, default: 200 }),
  /**
   * Prekey uploads per user (each checks up to 100 X25519 keys and two signatures). A client
   * uploads at registration, on each top-up and on each signed-prekey rotation.
   */
  API_PREKEY_UPLOAD_WINDOW_SECONDS: Type.Integer({ minimum: 1, default: 3600 }),
  API_PREKEY_UPLOAD_MAX_PER_USER: Type.Integer({ minimum: 1, default: 30 }),
  API_REGISTER_WINDOW_SECONDS: Type.Integer({ minimum: 1, default: 3600 }),
  API_REGISTER_MAX_PER_IP: Type.Integer({ minimum: 1, default: 20 }),
  API_SEARCH_WINDOW_SECONDS: Type.Integer({ minimum: 1, default: 60 }),
  API_SEARCH_MAX_PER_USER: Type.Integer({ minimum: 1, default: 60 }),
  /**
   * Which proxies' `X-Forwarded-For` names the client (for the per-address limits): `0`
   * (none, the default), a hop count such as `1`, or a comma-separated list of proxy IPs
   * and CIDRs (safer: a hop count also believes a client that reaches the api directly).
   */
  API_TRUST_PROXY: Type.String({ default: '0' }),
  /** Largest attachment in plaintext bytes (the api checks its ciphertext size). */
  API_ATTACHMENT_MAX_BYTES: Type.Integer({ minimum: 0, default: DEFAULT_ATTACHMENT_MAX_BYTES }),
  /** Per-user ciphertext bytes of every attachment stored or uploading. */
  API_ATTACHMENT_QUOTA_BYTES: Type.Integer({
    minimum: 0,
    default: DEFAULT_ATTACHMENT_QUOTA_BYTES,
  }),
  /**
   * Only for the `expiresAt` the api reports: the engine's sweep removes what is due
   * (ENGINE_ATTACHMENT_UPLOAD_TIMEOUT_SECONDS, ENGINE_ATTACHMENT_RETENTION_SECONDS); a
   * deployment sets both services from one value.
   */
  API_ATTACHMENT_UPLOAD_TIMEOUT_SECONDS: Type.Integer({
    minimum: 1,
    default: DEFAULT_ATTACHMENT_UPLOAD_TIMEOUT_SECONDS,
  }),
  API_ATTACHMENT_RETENTION_SECONDS: Type.Integer({
    minimum: 1,
    default: DEFAULT_ATTACHMENT_RETENTION_SECONDS,
  }),
  API_SHUTDOWN_TIMEOUT_MS: Type.Integer({ minimum: 0, default: 10_000 }),
  /** A connection whose request head takes longer is closed with 408 (slowloris). */
  API_HTTP_HEADERS_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    default: DEFAULT_HTTP_TIMEOUTS.headersTimeoutMs,
  }),
  /** A connection whose whole request (head and body) takes longer is closed with 408. */
  API_HTTP_REQUEST_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    default: DEFAULT_HTTP_TIMEOUTS.requestTimeoutMs,
  }),
});

export interface RateLimit {
  max: number;
  windowSeconds: number;
}

/** The progressive login delay per (username, client address); see `API_LOGIN_*`. */
export interface LoginThrottleConfig {
  freeAttempts: number;
  baseDelaySeconds: number;
  maxDelaySeconds: number;
  memorySeconds: number;
}

/** Attachment limits (see `API_ATTACHMENT_*`). */
export interface AttachmentConfig {
  /** Largest plaintext size. */
  maxBytes: number;
  /** The same limit as a ciphertext size: what an upload's `size` may be at most. */
  maxCiphertextBytes: number;
  /** Per-user ciphertext bytes stored or uploading. */
  quotaBytes: number;
  uploadTimeoutSeconds: number;
  retentionSeconds: number;
}

/** The typed, frozen configuration. */
export interface ApiConfig {
  port: number;
  host: string;
  /** Port and host of the ops listener (health, metrics, docs). */
  opsPort: number;
  opsHost: string;
  /** Whether `/docs` (OpenAPI UI and JSON) is served on the ops listener. */
  docs: boolean;
  mongoUrl: string;
  mongoDb: string;
  redisUrl: string;
  redisPrefix: string;
  /** The access-token keys: the one that signs, and the public keys of the whole set. */
  jwtKeys: {
    signing: SigningKey;
    verification: VerificationKeys;
    publicSet: JwkSet<PublicJwk>;
  };
  logLevel: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  sessionMaxAgeSeconds: number;
  wsTicketTtlSeconds: number;
  refreshRetryGraceSeconds: number;
  scryptLogN: number;
  hashConcurrency: number;
  hashQueue: number;
  limits: {
    login: LoginThrottleConfig;
    loginPerIp: RateLimit;
    deletePerUser: RateLimit;
    registerPerIp: RateLimit;
    searchPerUser: RateLimit;
    contactRequestPerUser: RateLimit;
    contactChangePerUser: RateLimit;
    keyChangePerUser: RateLimit;
    prekeyBundlePerUser: RateLimit;
    prekeyUploadPerUser: RateLimit;
  };
  trustProxy: TrustProxy;
  attachments: AttachmentConfig;
  shutdownTimeoutMs: number;
  /** Limits on slow HTTP clients. */
  http: HttpTimeouts;
}

/**
 * Parses the api's environment. Throws a `ConfigError` naming the first missing or bad
 * variable (without echoing secret values).
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): ApiConfig {
  const e = parseEnv(ApiEnv, env);
  const trustProxy = parseVariable('API_TRUST_PROXY', e.API_TRUST_PROXY, parseTrustProxy);
  const jwtKeys = parseVariable(
    JWT_KEY_ENV.apiPrivateKeys,
    e[JWT_KEY_ENV.apiPrivateKeys],
    parseSigningKeys,
    'is not valid: ',
  );
  requireOpsPortApart(e, 'API_OPS_PORT', 'API_PORT');
  const http = httpTimeoutsFrom(e, 'API_HTTP_HEADERS_TIMEOUT_MS', 'API_HTTP_REQUEST_TIMEOUT_MS');
  return Object.freeze({
    port: e.API_PORT,
    host: e.API_HOST,
    opsPort: e.API_OPS_PORT,
    opsHost: e.API_OPS_HOST,
    docs: e.API_DOCS ?? env.NODE_ENV !== 'production',
    mongoUrl: e.API_MONGO_URL,
    mongoDb: e.API_MONGO_DB,
    redisUrl: e.API_REDIS_URL,
    redisPrefix: e.API_REDIS_PREFIX,
    jwtKeys: Object.freeze(jwtKeys),
    logLevel: e.API_LOG_LEVEL,
    accessTokenTtlSeconds: e.API_ACCESS_TOKEN_TTL_SECONDS,
    refreshTokenTtlSeconds: e.API_REFRESH_TOKEN_TTL_SECONDS,
    sessionMaxAgeSeconds: e.API_SESSION_MAX_AGE_SECONDS,
    wsTicketTtlSeconds: e.API_WS_TICKET_TTL_SECONDS,
    refreshRetryGraceSeconds: e.API_REFRESH_RETRY_GRACE_SECONDS,
    scryptLogN: e.API_SCRYPT_LOG_N,
    hashConcurrency: e.API_HASH_CONCURRENCY,
    hashQueue: e.API_HASH_QUEUE,
    limits: Object.freeze({
      login: Object.freeze({
        freeAttempts: e.API_LOGIN_FREE_ATTEMPTS,
        baseDelaySeconds: e.API_LOGIN_DELAY_BASE_SECONDS,
        maxDelaySeconds: e.API_LOGIN_DELAY_MAX_SECONDS,
        memorySeconds: e.API_LOGIN_MEMORY_SECONDS,
      }),
      loginPerIp: { max: e.API_LOGIN_MAX_PER_IP, windowSeconds: e.API_LOGIN_WINDOW_SECONDS },
      deletePerUser: {
        max: e.API_DELETE_MAX_PER_USER,
        windowSeconds: e.API_DELETE_WINDOW_SECONDS,
      },
      contactRequestPerUser: {
        max: e.API_CONTACT_REQUEST_MAX_PER_USER,
        windowSeconds: e.API_CONTACT_REQUEST_WINDOW_SECONDS,
      },
      contactChangePerUser: {
        max: e.API_CONTACT_CHANGE_MAX_PER_USER,
        windowSeconds: e.API_CONTACT_CHANGE_WINDOW_SECONDS,
      },
      keyChangePerUser: {
        max: e.API_KEY_CHANGE_MAX_PER_USER,
        windowSeconds: e.API_KEY_CHANGE_WINDOW_SECONDS,
      },
      prekeyBundlePerUser: {
        max: e.API_PREKEY_BUNDLE_MAX_PER_USER,
        windowSeconds: e.API_PREKEY_BUNDLE_WINDOW_SECONDS,
      },
      prekeyUploadPerUser: {
        max: e.API_PREKEY_UPLOAD_MAX_PER_USER,
        windowSeconds: e.API_PREKEY_UPLOAD_WINDOW_SECONDS,
      },
      registerPerIp: {
        max: e.API_REGISTER_MAX_PER_IP,
        windowSeconds: e.API_REGISTER_WINDOW_SECONDS,
      },
      searchPerUser: { max: e.API_SEARCH_MAX_PER_USER, windowSeconds: e.API_SEARCH_WINDOW_SECONDS },
    }),
    trustProxy,
    attachments: Object.freeze({
      maxBytes: e.API_ATTACHMENT_MAX_BYTES,
      maxCiphertextBytes: attachmentCiphertextBytes(e.API_ATTACHMENT_MAX_BYTES),
      quotaBytes: e.API_ATTACHMENT_QUOTA_BYTES,
      uploadTimeoutSeconds: e.API_ATTACHMENT_UPLOAD_TIMEOUT_SECONDS,
      retentionSeconds: e.API_ATTACHMENT_RETENTION_SECONDS,
    }),
    shutdownTimeoutMs: e.API_SHUTDOWN_TIMEOUT_MS,
    http,
  });
}
