/**
 * The small kit every Gossip service (api, gateway, engine, operator) is built from:
 * environment config, the root logger, the metrics registry, graceful shutdown, access
 * tokens, a self-healing RabbitMQ link and the ops listener (`/healthz`, `/readyz`,
 * `/metrics`).
 */
export {
  ConfigError,
  envInteger,
  httpTimeoutsFrom,
  loadOrExit,
  parseEnv,
  parseVariable,
  requireAtLeast,
  requireOpsPortApart,
} from './config.js';
export {
  createLogger,
  redactUrl,
  REDACT_PATHS,
  type LoggerOptions,
  type Logger,
} from './logger.js';
export { createMetricsRegistry, METRIC_PREFIX, Registry, type MetricsOptions } from './metrics.js';
export { connectUntil, redisReady, type RedisLike } from './startup.js';
export {
  installShutdown,
  runStoppers,
  type Stopper,
  type StopResult,
  type ShutdownOptions,
} from './shutdown.js';
export {
  generateKeySets,
  generateSigningJwk,
  parseSigningKeys,
  parseVerificationKeys,
  publicKeySet,
  signAccessToken,
  signWsTicket,
  verifyAccessToken,
  verifyWsTicket,
  WS_TICKET_TYP,
  TokenError,
  type JwkSet,
  type PrivateJwk,
  type PublicJwk,
  type SigningKey,
  type TokenSubject,
  type VerificationKeys,
  type VerifiedTicket,
  type VerifiedToken,
} from './jwt.js';
export { AmqpLink, type AmqpLinkOptions } from './amqp.js';
export {
  DEFAULT_HTTP_TIMEOUTS,
  guardRequests,
  guardUpgrades,
  onClientError,
  rawResponse,
  serverOptions,
  type GuardLogger,
  type HttpTimeouts,
} from './http.js';
export {
  answerProbe,
  createOpsServer,
  notFound,
  pathOf,
  type OpsServer,
  type OpsServerOptions,
  type ReadinessChecks,
} from './ops.js';
export {
  clientAddress,
  parseTrustProxy,
  trustFunction,
  type TrustProxy,
  type TrustFunction,
} from './proxy.js';
