/** The engine's configuration: `ENGINE_*` environment variables, parsed once at start-up. */
import { Type, type Static } from '@sinclair/typebox';
import {
  parseEnv,
  DEFAULT_HTTP_TIMEOUTS,
  envInteger as Int,
  httpTimeoutsFrom,
  type HttpTimeouts,
} from '@gossip/servicekit';
import {
  DEFAULT_AMQP_PREFIX,
  DEFAULT_ATTACHMENT_RETENTION_SECONDS,
  DEFAULT_ATTACHMENT_UPLOAD_TIMEOUT_SECONDS,
  DEFAULT_MONGO_DB,
  DEFAULT_REDIS_PREFIX,
} from '@gossip/protocol';

export const EngineEnv = Type.Object({
  ENGINE_PORT: Int(9091, 0, '/healthz, /readyz, /metrics.'),
  ENGINE_HOST: Type.String({ default: '0.0.0.0' }),
  ENGINE_AMQP_URL: Type.String({ minLength: 1 }),
  ENGINE_MONGO_URL: Type.String({ minLength: 1 }),
  ENGINE_MONGO_DB: Type.String({ default: DEFAULT_MONGO_DB, minLength: 1 }),
  ENGINE_REDIS_URL: Type.String({ minLength: 1 }),
  ENGINE_RETENTION_SECONDS: Int(604_800, 1, 'Undelivered messages older than this expire.'),
  ENGINE_EVENT_RETENTION_SECONDS: Int(
    2_592_000,
    1,
    'Unacked contact events older than this expire.',
  ),
  ENGINE_RECEIPT_RETENTION_SECONDS: Int(604_800, 1, 'Unfetched receipts older than this expire.'),
  ENGINE_ATTACHMENT_RETENTION_SECONDS: Int(
    DEFAULT_ATTACHMENT_RETENTION_SECONDS,
    1,
    'Finished attachments older than this (since their finish) are removed.',
  ),
  ENGINE_ATTACHMENT_UPLOAD_TIMEOUT_SECONDS: Int(
    DEFAULT_ATTACHMENT_UPLOAD_TIMEOUT_SECONDS,
    1,
    'Uploads not finished this long after they were created are removed.',
  ),
  ENGINE_LOG_LEVEL: Type.String({ default: 'info' }),
  ENGINE_AMQP_PREFIX: Type.String({ default: DEFAULT_AMQP_PREFIX, pattern: '^[A-Za-z0-9._-]+$' }),
  ENGINE_REDIS_PREFIX: Type.String({ default: DEFAULT_REDIS_PREFIX }),
  ENGINE_QUEUE_TYPE: Type.Union([Type.Literal('quorum'), Type.Literal('classic')], {
    default: 'quorum',
  }),
  ENGINE_PREFETCH: Int(64, 1),
  ENGINE_REDELIVERY_SECONDS: Int(30, 1, 'Delivered but unacked messages are re-sent after this.'),
  ENGINE_SCAN_INTERVAL_MS: Int(1000, 50, 'How often the redelivery scan runs.'),
  ENGINE_SWEEP_INTERVAL_SECONDS: Int(60, 1, 'How often expired messages are swept.'),
  ENGINE_STATS_INTERVAL_MS: Int(5000, 100, 'How often the backlog gauges are refreshed.'),
  ENGINE_REPLAY_BATCH: Int(500, 1),
  ENGINE_MAX_REDELIVERIES: Int(50, 1, 'A bus message failing this often is dropped.'),
  ENGINE_MONGO_MAX_POOL: Int(8, 1, 'MongoDB connections per engine.'),
  ENGINE_PERMISSION_CACHE_MS: Int(1000, 0, 'How long an allowed sender/recipient pair is cached.'),
  ENGINE_PRESENCE_CACHE_MS: Int(
    250,
    0,
    'How long a recipient found online is remembered for the live push of its messages.',
  ),
  ENGINE_SHUTDOWN_TIMEOUT_MS: Int(20_000, 1000),
  ENGINE_HTTP_HEADERS_TIMEOUT_MS: Int(
    DEFAULT_HTTP_TIMEOUTS.headersTimeoutMs,
    100,
    'The ops port closes a connection whose request head takes longer (slowloris).',
  ),
  ENGINE_HTTP_REQUEST_TIMEOUT_MS: Int(
    DEFAULT_HTTP_TIMEOUTS.requestTimeoutMs,
    100,
    'The ops port closes a connection whose whole request takes longer.',
  ),
});

export interface EngineConfig {
  port: number;
  host: string;
  amqpUrl: string;
  mongoUrl: string;
  mongoDb: string;
  redisUrl: string;
  retentionSeconds: number;
  eventRetentionSeconds: number;
  receiptRetentionSeconds: number;
  attachmentRetentionSeconds: number;
  attachmentUploadTimeoutSeconds: number;
  logLevel: string;
  amqpPrefix: string;
  redisPrefix: string;
  queueType: 'quorum' | 'classic';
  prefetch: number;
  redeliverySeconds: number;
  scanIntervalMs: number;
  sweepIntervalSeconds: number;
  statsIntervalMs: number;
  replayBatch: number;
  maxRedeliveries: number;
  mongoMaxPool: number;
  permissionCacheMs: number;
  presenceCacheMs: number;
  shutdownTimeoutMs: number;
  /** The ops port's limits on slow clients. */
  http: HttpTimeouts;
}

/** Parses and checks the engine's environment; throws a ConfigError naming the variable. */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): EngineConfig {
  const e: Static<typeof EngineEnv> = parseEnv(EngineEnv, env);
  const http = httpTimeoutsFrom(
    e,
    'ENGINE_HTTP_HEADERS_TIMEOUT_MS',
    'ENGINE_HTTP_REQUEST_TIMEOUT_MS',
  );
  return Object.freeze({
    port: e.ENGINE_PORT,
    host: e.ENGINE_HOST,
    amqpUrl: e.ENGINE_AMQP_URL,
    mongoUrl: e.ENGINE_MONGO_URL,
    mongoDb: e.ENGINE_MONGO_DB,
    redisUrl: e.ENGINE_REDIS_URL,
    retentionSeconds: e.ENGINE_RETENTION_SECONDS,
    eventRetentionSeconds: e.ENGINE_EVENT_RETENTION_SECONDS,
    receiptRetentionSeconds: e.ENGINE_RECEIPT_RETENTION_SECONDS,
    attachmentRetentionSeconds: e.ENGINE_ATTACHMENT_RETENTION_SECONDS,
    attachmentUploadTimeoutSeconds: e.ENGINE_ATTACHMENT_UPLOAD_TIMEOUT_SECONDS,
    logLevel: e.ENGINE_LOG_LEVEL,
    amqpPrefix: e.ENGINE_AMQP_PREFIX,
    redisPrefix: e.ENGINE_REDIS_PREFIX,
    queueType: e.ENGINE_QUEUE_TYPE,
    prefetch: e.ENGINE_PREFETCH,
    redeliverySeconds: e.ENGINE_REDELIVERY_SECONDS,
    scanIntervalMs: e.ENGINE_SCAN_INTERVAL_MS,
    sweepIntervalSeconds: e.ENGINE_SWEEP_INTERVAL_SECONDS,
    statsIntervalMs: e.ENGINE_STATS_INTERVAL_MS,
    replayBatch: e.ENGINE_REPLAY_BATCH,
    maxRedeliveries: e.ENGINE_MAX_REDELIVERIES,
    mongoMaxPool: e.ENGINE_MONGO_MAX_POOL,
    permissionCacheMs: e.ENGINE_PERMISSION_CACHE_MS,
    presenceCacheMs: e.ENGINE_PRESENCE_CACHE_MS,
    shutdownTimeoutMs: e.ENGINE_SHUTDOWN_TIMEOUT_MS,
    http,
  });
}
