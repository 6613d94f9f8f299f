/**
 * The operator's configuration, parsed once at the edge from `OPERATOR_*` variables.
 * Empty counts as unset. Nothing else in the operator reads `process.env`.
 */
import { hostname } from 'node:os';

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
  /** Concurrent reconcilers (different keys only; one key never runs twice at once). */
  readonly workers: number;
  /** How often the gateway autoscaler reads connection counts and decides. */
  readonly autoscaleIntervalSeconds: number;
  readonly logLevel: LogLevel;
}

const LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function str(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function int(env: NodeJS.ProcessEnv, name: string, def: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${name} must be an integer between ${min} and ${max}, got '${raw}'`);
  }
  return n;
}

function bool(env: NodeJS.ProcessEnv, name: string, def: boolean): boolean {
  const raw = str(env, name);
  if (raw === undefined) return def;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new Error(`${name} must be 'true' or 'false', got '${raw}'`);
}

/** Parses and validates the environment; throws an error naming the bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv): OperatorConfig {
  const logLevel = (str(env, 'OPERATOR_LOG_LEVEL') ?? 'info') as LogLevel;
  if (!LEVELS.includes(logLevel)) {
    throw new Error(`OPERATOR_LOG_LEVEL must be one of ${LEVELS.join(', ')}, got '${logLevel}'`);
  }
  const config: OperatorConfig = {
    metricsPort: int(env, 'OPERATOR_METRICS_PORT', 8080, 0, 65535),
    metricsHost: str(env, 'OPERATOR_METRICS_HOST') ?? '0.0.0.0',
    watchNamespace: str(env, 'OPERATOR_WATCH_NAMESPACE'),
    kubeconfig: str(env, 'OPERATOR_KUBECONFIG'),
    leaderElection: bool(env, 'OPERATOR_LEADER_ELECTION', true),
    leaseName: str(env, 'OPERATOR_LEASE_NAME') ?? 'gossip-operator',
    leaseNamespace: str(env, 'OPERATOR_LEASE_NAMESPACE') ?? 'default',
    identity: str(env, 'OPERATOR_IDENTITY') ?? `${hostname()}-${process.pid}`,
    leaseDurationSeconds: int(env, 'OPERATOR_LEASE_DURATION_SECONDS', 15, 2, 3600),
    renewDeadlineSeconds: int(env, 'OPERATOR_RENEW_DEADLINE_SECONDS', 10, 1, 3600),
    retryPeriodSeconds: int(env, 'OPERATOR_RETRY_PERIOD_SECONDS', 2, 1, 3600),
    resyncSeconds: int(env, 'OPERATOR_RESYNC_SECONDS', 300, 1, 86400),
    workers: int(env, 'OPERATOR_WORKERS', 2, 1, 64),
    autoscaleIntervalSeconds: int(env, 'OPERATOR_AUTOSCALE_INTERVAL_SECONDS', 15, 1, 3600),
    logLevel,
  };
  if (config.renewDeadlineSeconds >= config.leaseDurationSeconds) {
    throw new Error(
      `OPERATOR_RENEW_DEADLINE_SECONDS (${config.renewDeadlineSeconds}) must be less than OPERATOR_LEASE_DURATION_SECONDS (${config.leaseDurationSeconds})`,
    );
  }
  return Object.freeze(config);
}
