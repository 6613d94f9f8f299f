/** The gateway's configuration: `GATEWAY_*` environment variables, parsed once at start-up. */
import { hostname } from 'node:os';
import { Type, type Static } from '@sinclair/typebox';
import {
  parseTrustProxy,
  type TrustProxy,
  DEFAULT_HTTP_TIMEOUTS,
  type HttpTimeouts,
  envInteger as Int,
  httpTimeoutsFrom,
  parseEnv,
  parseVariable,
  parseVerificationKeys,
  requireAtLeast,
  requireOpsPortApart,
  type VerificationKeys,
} from '@gossip/servicekit';
import {
  DEFAULT_AMQP_PREFIX,
  DEFAULT_REDIS_PREFIX,
  JWT_KEY_ENV,
  MAX_FRAME_BYTES,
} from '@gossip/protocol';

export const GatewayEnv = Type.Object({
  GATEWAY_PORT: Int(
    8081,
    0,
    'Public HTTP port: WebSocket at /ws, /healthz, /readyz (no /metrics).',
  ),
  GATEWAY_HOST: Type.String({ default: '0.0.0.0' }),
  GATEWAY_OPS_PORT: Int(
    9092,
    0,
    'Ops listener: /metrics, /healthz, /readyz, kept off the public port so clients cannot ' +
      'read the metrics. 0 picks a free port (tests).',
  ),
  GATEWAY_OPS_HOST: Type.String({ default: '0.0.0.0' }),
  GATEWAY_AMQP_URL: Type.String({ minLength: 1 }),
  GATEWAY_REDIS_URL: Type.String({ minLength: 1 }),
  [JWT_KEY_ENV.gatewayPublicKeys]: Type.String({
    minLength: 1,
    description: 'JSON JWK set of the Ed25519 public keys access tokens may be signed with.',
  }),
  GATEWAY_INSTANCE_ID: Type.String({ default: '', pattern: '^[A-Za-z0-9._-]*$' }),
  GATEWAY_LOG_LEVEL: Type.String({ default: 'info' }),
  GATEWAY_AMQP_PREFIX: Type.String({ default: DEFAULT_AMQP_PREFIX, pattern: '^[A-Za-z0-9._-]+$' }),
  GATEWAY_REDIS_PREFIX: Type.String({ default: DEFAULT_REDIS_PREFIX }),
  GATEWAY_MAX_FRAME_BYTES: Int(MAX_FRAME_BYTES, 1024),
  GATEWAY_RATE_PER_SECOND: Int(50, 1, 'Sustained frames per second per connection.'),
  GATEWAY_RATE_BURST: Int(100, 1, 'Token bucket size per connection.'),
  GATEWAY_RATE_VIOLATIONS_MAX: Int(
    20,
    1,
    'Frames refused by the rate limit, with no pause long enough to refill the bucket in ' +
      'between, before the connection is closed with CLOSE_CODES.rateLimited (4429).',
  ),
  GATEWAY_PING_INTERVAL_MS: Int(25_000, 100),
  GATEWAY_PRESENCE_TTL_SECONDS: Int(60, 2),
  GATEWAY_HIGH_WATER_BYTES: Int(1 << 20, 1024, 'Over this, deliveries to a socket are skipped.'),
  GATEWAY_MAX_BUFFERED_BYTES: Int(8 << 20, 1024, 'Over this, a socket is closed with 1013.'),
  GATEWAY_PREFETCH: Int(256, 1),
  GATEWAY_REPLAY_HOLD_MS: Int(
    30_000,
    100,
    'A connection replay that sends nothing for this long is given up on: the live frames ' +
      'held back go out, the client gets `replayed`, and the replay is asked for again.',
  ),
  GATEWAY_REPLAY_HOLD_MAX: Int(
    10_000,
    1,
    'Most live frames one connection holds back during its first replay; past it they go ' +
      'out at once (order is then not guaranteed; nothing is lost).',
  ),
  GATEWAY_DRAIN_GRACE_MS: Int(10_000, 0, 'How long clients get to leave after `drain`.'),
  GATEWAY_DRAIN_RECONNECT_MS: Int(1000, 0, 'The `reconnectAfterMs` sent in `drain`.'),
  GATEWAY_SHUTDOWN_TIMEOUT_MS: Int(25_000, 1000),
  GATEWAY_HTTP_HEADERS_TIMEOUT_MS: Int(
    DEFAULT_HTTP_TIMEOUTS.headersTimeoutMs,
    100,
    'A connection whose request head (the upgrade included) takes longer is closed (slowloris).',
  ),
  GATEWAY_HTTP_REQUEST_TIMEOUT_MS: Int(
    DEFAULT_HTTP_TIMEOUTS.requestTimeoutMs,
    100,
    'A connection whose whole HTTP request takes longer is closed.',
  ),
  GATEWAY_ALLOWED_ORIGINS: Type.String({
    default: '',
    description: 'Comma-separated Origin values accepted; empty accepts any (native clients).',
  }),
  GATEWAY_MAX_CONNS_PER_USER: Int(10, 1, 'Open connections of one user on this gateway.'),
  GATEWAY_MAX_CONNS_PER_ADDRESS: Int(256, 1, 'Open connections from one client address.'),
  GATEWAY_CONNECT_RATE_PER_ADDRESS: Int(
    60,
    1,
    'Upgrades one client address may attempt per window.',
  ),
  GATEWAY_CONNECT_RATE_WINDOW_SECONDS: Int(10, 1, 'The window of the connect rate limit.'),
  GATEWAY_TRUST_PROXY: Type.String({
    default: '0',
    description:
      'Whose X-Forwarded-For names the client address (for the per-address limits): 0 ' +
      '(nobody), a hop count, or comma-separated proxy IPs/CIDRs.',
  }),
});

export interface GatewayConfig {
  port: number;
  host: string;
  /** Port and host of the ops listener (metrics and probes). */
  opsPort: number;
  opsHost: string;
  amqpUrl: string;
  redisUrl: string;
  /** The public keys access tokens are verified with (no signing key). */
  jwtKeys: VerificationKeys;
  instanceId: string;
  logLevel: string;
  amqpPrefix: string;
  redisPrefix: string;
  maxFrameBytes: number;
  ratePerSecond: number;
  rateBurst: number;
  /** Rate-limited frames in a row (see GATEWAY_RATE_VIOLATIONS_MAX) before a close. */
  rateViolationsMax: number;
  /** Limits on slow HTTP clients, before and at the upgrade. */
  http: HttpTimeouts;
  pingIntervalMs: number;
  presenceTtlSeconds: number;
  highWaterBytes: number;
  maxBufferedBytes: number;
  prefetch: number;
  /** See GATEWAY_REPLAY_HOLD_MS and GATEWAY_REPLAY_HOLD_MAX. */
  replayHoldMs: number;
  replayHoldMax: number;
  drainGraceMs: number;
  drainReconnectMs: number;
  shutdownTimeoutMs: number;
  allowedOrigins: string[];
  /** Connection caps, checked at the upgrade (an over-cap upgrade is answered 429). */
  caps: {
    perUser: number;
    perAddress: number;
    connectRate: { max: number; windowSeconds: number };
  };
  trustProxy: TrustProxy;
}

/** Parses and checks the gateway's environment; throws a ConfigError naming the variable. */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): GatewayConfig {
  const e: Static<typeof GatewayEnv> = parseEnv(GatewayEnv, env);
  const trustProxy = parseVariable('GATEWAY_TRUST_PROXY', e.GATEWAY_TRUST_PROXY, parseTrustProxy);
  const jwtKeys = parseVariable(
    JWT_KEY_ENV.gatewayPublicKeys,
    e[JWT_KEY_ENV.gatewayPublicKeys],
    parseVerificationKeys,
  );
  requireOpsPortApart(e, 'GATEWAY_OPS_PORT', 'GATEWAY_PORT');
  const http = httpTimeoutsFrom(
    e,
    'GATEWAY_HTTP_HEADERS_TIMEOUT_MS',
    'GATEWAY_HTTP_REQUEST_TIMEOUT_MS',
  );
  requireAtLeast(e, 'GATEWAY_MAX_BUFFERED_BYTES', 'GATEWAY_HIGH_WATER_BYTES');
  return Object.freeze({
    port: e.GATEWAY_PORT,
    host: e.GATEWAY_HOST,
    opsPort: e.GATEWAY_OPS_PORT,
    opsHost: e.GATEWAY_OPS_HOST,
    amqpUrl: e.GATEWAY_AMQP_URL,
    redisUrl: e.GATEWAY_REDIS_URL,
    jwtKeys,
    instanceId: e.GATEWAY_INSTANCE_ID || hostname().replace(/[^A-Za-z0-9._-]/g, '-'),
    logLevel: e.GATEWAY_LOG_LEVEL,
    amqpPrefix: e.GATEWAY_AMQP_PREFIX,
    redisPrefix: e.GATEWAY_REDIS_PREFIX,
    maxFrameBytes: e.GATEWAY_MAX_FRAME_BYTES,
    ratePerSecond: e.GATEWAY_RATE_PER_SECOND,
    rateBurst: e.GATEWAY_RATE_BURST,
    rateViolationsMax: e.GATEWAY_RATE_VIOLATIONS_MAX,
    http,
    pingIntervalMs: e.GATEWAY_PING_INTERVAL_MS,
    presenceTtlSeconds: e.GATEWAY_PRESENCE_TTL_SECONDS,
    highWaterBytes: e.GATEWAY_HIGH_WATER_BYTES,
    maxBufferedBytes: e.GATEWAY_MAX_BUFFERED_BYTES,
    prefetch: e.GATEWAY_PREFETCH,
    replayHoldMs: e.GATEWAY_REPLAY_HOLD_MS,
    replayHoldMax: e.GATEWAY_REPLAY_HOLD_MAX,
    drainGraceMs: e.GATEWAY_DRAIN_GRACE_MS,
    drainReconnectMs: e.GATEWAY_DRAIN_RECONNECT_MS,
    shutdownTimeoutMs: e.GATEWAY_SHUTDOWN_TIMEOUT_MS,
    allowedOrigins: e.GATEWAY_ALLOWED_ORIGINS.split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    caps: Object.freeze({
      perUser: e.GATEWAY_MAX_CONNS_PER_USER,
      perAddress: e.GATEWAY_MAX_CONNS_PER_ADDRESS,
      connectRate: Object.freeze({
        max: e.GATEWAY_CONNECT_RATE_PER_ADDRESS,
        windowSeconds: e.GATEWAY_CONNECT_RATE_WINDOW_SECONDS,
      }),
    }),
    trustProxy,
  });
}
