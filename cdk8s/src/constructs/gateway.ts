/** The gateway: WebSocket connections, delivery to online clients, drain on shutdown. */
import { Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { trustProxyEnv } from '../api/trust-proxy.js';
import { AppWorkload } from './app-workload.js';
import type { ClusterContext } from './context.js';
import { connectionSecret, jwtPublicSecret } from './context.js';
import { opsPorts, ports } from './naming.js';

export interface GossipGatewayProps {
  /** The cluster this gateway belongs to. */
  readonly cluster: ClusterContext;
  /**
   * The replica count the operator's autoscaler decided; kept within
   * `spec.gateway.minReplicas`..`maxReplicas`.
   * @default spec.gateway.minReplicas
   */
  readonly replicas?: number;
  /**
   * The pod's termination grace period: the preStop delay, then the gateway's whole shutdown
   * after SIGTERM (telling its clients to reconnect elsewhere, waiting for them to leave,
   * closing its RabbitMQ and Redis links).
   * @default Duration.seconds(60)
   */
  readonly drainTime?: Duration;
  /**
   * How long a gateway being removed keeps serving before its SIGTERM. Deleting a pod and
   * taking it out of the Service's endpoints happen at the same time, but kube-proxy (and any
   * load balancer) follow a moment later: a gateway that started draining at once would get
   * the reconnects of the clients it just told to leave, refuse them, and make them back off.
   * @default Duration.seconds(5)
   */
  readonly preStopDelay?: Duration;
}

/** What the gateway's own shutdown watchdog leaves of the grace period, for its last log lines. */
const SHUTDOWN_MARGIN_SECONDS = 5;

/**
 * The gateway's shutdown timeout (`GATEWAY_SHUTDOWN_TIMEOUT_MS`) for a termination grace
 * period and preStop delay: the process must give up and exit on its own before the kubelet
 * sends SIGKILL, or a draining gateway would be killed mid-drain.
 */
export function gatewayShutdownTimeoutMs(drainTime: Duration, preStopDelay: Duration): number {
  const grace = drainTime.toSeconds();
  const delay = preStopDelay.toSeconds();
  const left = grace - delay - SHUTDOWN_MARGIN_SECONDS;
  if (!Number.isInteger(delay) || delay < 0) {
    throw new Error(`'preStopDelay' (${delay}s) must be a whole number of seconds >= 0`);
  }
  // The gateway's drain alone waits up to GATEWAY_DRAIN_GRACE_MS (10 s) for its clients.
  if (left < 15) {
    throw new Error(
      `'drainTime' (${grace}s) must be at least 'preStopDelay' (${delay}s) + ` +
        `${15 + SHUTDOWN_MARGIN_SECONDS}s: the gateway needs 15s to drain and stop, and ` +
        `${SHUTDOWN_MARGIN_SECONDS}s are kept before the kubelet's SIGKILL`,
    );
  }
  return left * 1000;
}

/** The gateway replicas to run: `wanted` (or the minimum) clamped to the spec's bounds. */
export function gatewayReplicas(cluster: ClusterContext, wanted?: number): number {
  const { minReplicas, maxReplicas } = cluster.spec.gateway;
  if (wanted !== undefined && (!Number.isInteger(wanted) || wanted < 0)) {
    throw new Error(`gateway replicas must be a non-negative integer, got ${wanted}`);
  }
  return Math.min(maxReplicas, Math.max(minReplicas, wanted ?? minReplicas));
}

/** Deployment, Service and config of the gateway (`GATEWAY_*` contract). */
export class GossipGateway extends Construct {
  readonly workload: AppWorkload;

  constructor(scope: Construct, id: string, props: GossipGatewayProps) {
    super(scope, id);
    const { cluster } = props;
    const drainTime = props.drainTime ?? Duration.seconds(60);
    const preStopDelay = props.preStopDelay ?? Duration.seconds(5);
    const shutdownTimeoutMs = gatewayShutdownTimeoutMs(drainTime, preStopDelay);
    this.workload = new AppWorkload(this, 'Workload', {
      cluster,
      component: 'gateway',
      // /metrics (read by monitoring and the operator's autoscaler) and the probes, apart
      // from the public WebSocket port.
      opsPort: opsPorts.gateway,
      replicas: gatewayReplicas(cluster, props.replicas),
      resources: cluster.spec.gateway.resources,
      config: {
        GATEWAY_PORT: String(ports.gateway),
        GATEWAY_OPS_PORT: String(opsPorts.gateway),
        GATEWAY_LOG_LEVEL: cluster.spec.logLevel,
        GATEWAY_TRUST_PROXY: trustProxyEnv(cluster.spec.trustProxy),
        GATEWAY_SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs),
      },
      secretEnv: {
        GATEWAY_AMQP_URL: connectionSecret(cluster, 'rabbitmq', 'gateway'),
        GATEWAY_REDIS_URL: connectionSecret(cluster, 'redis', 'gateway'),
        GATEWAY_JWT_PUBLIC_KEYS: jwtPublicSecret(cluster),
      },
      // Each gateway has its own delivery queue, named after the pod.
      fieldEnv: { GATEWAY_INSTANCE_ID: kplus.EnvFieldPaths.POD_NAME },
      terminationGracePeriod: drainTime,
      // Sleeps with the image's own Node (no shell or coreutils needed in the image).
      ...(preStopDelay.toSeconds() > 0
        ? {
            preStopCommand: [
              'node',
              '-e',
              `setTimeout(() => {}, ${preStopDelay.toMilliseconds()})`,
            ],
          }
        : {}),
    });
  }
}
