/**
 * The operator's configuration, parsed once at the edge from `OPERATOR_*` variables with
 * the shared servicekit (one TypeBox schema, defaults inside it, empty counts as unset).
 * Nothing else in the operator reads `process.env`.
 */
import { hostname } from 'node:os';
import { Type } from '@sinclair/typebox';
import { ConfigError, parseEnv } from '@gossip/servicekit';

const seconds = (def: number, min = 1) =>
  Type.Integer({ minimum: min, maximum: 86_400, default: def });

const Env = Type.Object({
  OPERATOR_METRICS_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
  OPERATOR_METRICS_HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  OPERATOR_WATCH_NAMESPACE: Type.Optional(Type.String({ minLength: 1 })),
  OPERATOR_KUBECONFIG: Type.Optional(Type.String({ minLength: 1 })),
  OPERATOR_LEADER_ELECTION: Type.Boolean({ default: true }),
  OPERATOR_LEASE_NAME: Type.String({ minLength: 1, default: 'gossip-operator' }),
  OPERATOR_LEASE_NAMESPACE: Type.String({ minLength: 1, default: 'default' }),
  OPERATOR_IDENTITY: Type.Optional(Type.String({ minLength: 1 })),
  OPERATOR_LEASE_DURATION_SECONDS: seconds(15, 2),
  OPERATOR_RENEW_DEADLINE_SECONDS: seconds(10),
  OPERATOR_RETRY_PERIOD_SECONDS: seconds(2),
  OPERATOR_RESYNC_SECONDS: seconds(300),
  OPERATOR_SECRET_RECHECK_SECONDS: seconds(300),
  OPERATOR_WORKERS: Type.Integer({ minimum: 1, maximum: 64, default: 2 }),
  OPERATOR_AUTOSCALE_INTERVAL_SECONDS: Type.Integer({ minimum: 1, maximum: 3600, default: 15 }),
  OPERATOR_LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
});

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface OperatorConfig {
  /** Port of `/metrics`, `/healthz` and `/readyz`. */
  readonly metricsPort: number;
  readonly metricsHost: string;
  /** Namespace whose GossipClusters are reconciled; `undefined` means every namespace. */
  readonly watchNamespace: string | undefined;
  /** Path of a kubeconfig; `undefined`: in-cluster service account, else `~/.kube/config`. */
  readonly kubeconfig: string | undefined;
  readonly leaderElection: boolean;
  readonly leaseName: string;
  readonly leaseNamespace: string;
  /** This replica's name in the Lease; defaults to `<hostname>-<pid>`. */
  readonly identity: string;
  readonly leaseDurationSeconds: number;
  readonly renewDeadlineSeconds: number;
  readonly retryPeriodSeconds: number;
  /** Every key is re-queued this often even without a watch event. */
  readonly resyncSeconds: number;
  /**
   * A cluster that reads external Secrets is reconciled again this long after each success,
   * since Secrets are read by name and never watched.
   */
  readonly secretRecheckSeconds: number;
  /** Concurrent reconcilers (different keys only; one key never runs twice at once). */
  readonly workers: number;
  /** How often the gateway autoscaler reads connection counts and decides. */
  readonly autoscaleIntervalSeconds: number;
  readonly logLevel: LogLevel;
}

/** Parses and validates the environment; throws a ConfigError naming the bad variable. */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): OperatorConfig {
  const e = parseEnv(Env, env);
  if (e.OPERATOR_RENEW_DEADLINE_SECONDS >= e.OPERATOR_LEASE_DURATION_SECONDS) {
    throw new ConfigError(
      'OPERATOR_RENEW_DEADLINE_SECONDS',
      `(${e.OPERATOR_RENEW_DEADLINE_SECONDS}) must be less than OPERATOR_LEASE_DURATION_SECONDS (${e.OPERATOR_LEASE_DURATION_SECONDS})`,
    );
  }
  return Object.freeze({
    metricsPort: e.OPERATOR_METRICS_PORT,
    metricsHost: e.OPERATOR_METRICS_HOST,
    watchNamespace: e.OPERATOR_WATCH_NAMESPACE,
    kubeconfig: e.OPERATOR_KUBECONFIG,
    leaderElection: e.OPERATOR_LEADER_ELECTION,
    leaseName: e.OPERATOR_LEASE_NAME,
    leaseNamespace: e.OPERATOR_LEASE_NAMESPACE,
    identity: e.OPERATOR_IDENTITY ?? `${hostname()}-${process.pid}`,
    leaseDurationSeconds: e.OPERATOR_LEASE_DURATION_SECONDS,
    renewDeadlineSeconds: e.OPERATOR_RENEW_DEADLINE_SECONDS,
    retryPeriodSeconds: e.OPERATOR_RETRY_PERIOD_SECONDS,
    resyncSeconds: e.OPERATOR_RESYNC_SECONDS,
    secretRecheckSeconds: e.OPERATOR_SECRET_RECHECK_SECONDS,
    workers: e.OPERATOR_WORKERS,
    autoscaleIntervalSeconds: e.OPERATOR_AUTOSCALE_INTERVAL_SECONDS,
    logLevel: e.OPERATOR_LOG_LEVEL as LogLevel,
  });
}
