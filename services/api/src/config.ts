/**
 * The api's configuration: every `API_*` environment variable, parsed once at start up.
 * Nothing else in the service reads `process.env`.
 */
import { Type } from '@sinclair/typebox';
import {
  ConfigError,
  parseEnv,
  parseSigningKeys,
  type JwkSet,
  type PublicJwk,
  type SigningKey,
  type VerificationKeys,
} from '@gossip/servicekit';
import { JWT_KEY_ENV } from '@gossip/protocol';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The variables, their types and defaults. */
export const ApiEnv = Type.Object({
  API_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
  API_HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  API_MONGO_URL: Type.String({ pattern: '^mongodb(\\+srv)?://' }),
  API_MONGO_DB: Type.String({ pattern: '^[A-Za-z0-9_-]{1,63}$', default: 'gossip' }),
  API_REDIS_URL: Type.String({ pattern: '^rediss?://' }),
  /** Key prefix for everything the api writes to Redis (and the events channel). */
  API_REDIS_PREFIX: Type.String({ pattern: '^[A-Za-z0-9_.:-]*$', default: 'gossip:' }),
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
   * A refresh token presented again this soon after it was used, while the token its
   * rotation issued has never been used, is a client retrying a refresh whose answer it
   * lost (an outage, a timeout): it gets a new pair instead of ending the session. 0: any
   * second use ends the session.
   */
  API_REFRESH_RETRY_GRACE_SECONDS: Type.Integer({ minimum: 0, maximum: 300, default: 30 }),
  /** scrypt cost as log2(N): 15 means N = 32768 (32 MiB with r = 8). */
  API_SCRYPT_LOG_N: Type.Integer({ minimum: 10, maximum: 20, default: 15 }),
  API_LOGIN_WINDOW_SECONDS: Type.Integer({ minimum: 1, default: 300 }),
  API_LOGIN_MAX_PER_USERNAME: Type.Integer({ minimum: 1, default: 10 }),
  API_LOGIN_MAX_PER_IP: Type.Integer({ minimum: 1, default: 50 }),
  API_REGISTER_WINDOW_SECONDS: Type.Integer({ minimum: 1, default: 3600 }),
  API_REGISTER_MAX_PER_IP: Type.Integer({ minimum: 1, default: 20 }),
  API_SEARCH_WINDOW_SECONDS: Type.Integer({ minimum: 1, default: 60 }),
  API_SEARCH_MAX_PER_USER: Type.Integer({ minimum: 1, default: 60 }),
  /** Trust X-Forwarded-For (behind an ingress) for the client IP. */
  API_TRUST_PROXY: Type.Boolean({ default: false }),
  API_SHUTDOWN_TIMEOUT_MS: Type.Integer({ minimum: 0, default: 10_000 }),
});

export interface RateLimit {
  max: number;
  windowSeconds: number;
}

/** The typed, frozen configuration. */
export interface ApiConfig {
  port: number;
  host: string;
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
  refreshRetryGraceSeconds: number;
  scryptLogN: number;
  limits: {
    loginPerUsername: RateLimit;
    loginPerIp: RateLimit;
    registerPerIp: RateLimit;
    searchPerUser: RateLimit;
  };
  trustProxy: boolean;
  shutdownTimeoutMs: number;
}

/**
 * Parses the api's environment. Throws a `ConfigError` naming the first missing or bad
 * variable (without echoing secret values).
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): ApiConfig {
  const e = parseEnv(ApiEnv, env);
  let jwtKeys: ApiConfig['jwtKeys'];
  try {
    jwtKeys = parseSigningKeys(e[JWT_KEY_ENV.apiPrivateKeys]);
  } catch (err) {
    throw new ConfigError(JWT_KEY_ENV.apiPrivateKeys, `is not valid: ${(err as Error).message}`);
  }
  return Object.freeze({
    port: e.API_PORT,
    host: e.API_HOST,
    mongoUrl: e.API_MONGO_URL,
    mongoDb: e.API_MONGO_DB,
    redisUrl: e.API_REDIS_URL,
    redisPrefix: e.API_REDIS_PREFIX,
    jwtKeys: Object.freeze(jwtKeys),
    logLevel: e.API_LOG_LEVEL,
    accessTokenTtlSeconds: e.API_ACCESS_TOKEN_TTL_SECONDS,
    refreshTokenTtlSeconds: e.API_REFRESH_TOKEN_TTL_SECONDS,
    refreshRetryGraceSeconds: e.API_REFRESH_RETRY_GRACE_SECONDS,
    scryptLogN: e.API_SCRYPT_LOG_N,
    limits: Object.freeze({
      loginPerUsername: {
        max: e.API_LOGIN_MAX_PER_USERNAME,
        windowSeconds: e.API_LOGIN_WINDOW_SECONDS,
      },
      loginPerIp: { max: e.API_LOGIN_MAX_PER_IP, windowSeconds: e.API_LOGIN_WINDOW_SECONDS },
      registerPerIp: {
        max: e.API_REGISTER_MAX_PER_IP,
        windowSeconds: e.API_REGISTER_WINDOW_SECONDS,
      },
      searchPerUser: { max: e.API_SEARCH_MAX_PER_USER, windowSeconds: e.API_SEARCH_WINDOW_SECONDS },
    }),
    trustProxy: e.API_TRUST_PROXY,
    shutdownTimeoutMs: e.API_SHUTDOWN_TIMEOUT_MS,
  });
}
