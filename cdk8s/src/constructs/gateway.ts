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
   * Time a gateway gets after SIGTERM to tell its clients to reconnect elsewhere.
   * @default Duration.seconds(60)
   */
  readonly drainTime?: Duration;
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
      },
      secretEnv: {
        GATEWAY_AMQP_URL: connectionSecret(cluster, 'rabbitmq', 'gateway'),
        GATEWAY_REDIS_URL: connectionSecret(cluster, 'redis', 'gateway'),
        GATEWAY_JWT_PUBLIC_KEYS: jwtPublicSecret(cluster),
      },
      // Each gateway has its own delivery queue, named after the pod.
      fieldEnv: { GATEWAY_INSTANCE_ID: kplus.EnvFieldPaths.POD_NAME },
      terminationGracePeriod: props.drainTime ?? Duration.seconds(60),
    });
  }
}
