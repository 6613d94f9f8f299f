/** One GossipCluster as a cdk8s Chart: every construct it needs, in its namespace. */
import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import { GossipApi } from './api.js';
import type { ClusterContext } from './context.js';
import { GossipEngine } from './engine.js';
import { GossipGateway } from './gateway.js';
import { GatewayDisruptionBudget } from './gateway-pdb.js';
import { GossipMonitoring } from './monitoring.js';
import { ManagedMongodb } from './mongodb.js';
import { ManagedRabbitmq } from './rabbitmq.js';
import { GossipIngress } from './ingress.js';
import { GossipNetworkPolicies } from './network-policies.js';
import { ManagedRedis } from './redis.js';

export interface GossipClusterChartProps {
  /** The resolved cluster. */
  readonly cluster: ClusterContext;
  /**
   * Gateway replicas decided by the autoscaler (clamped to the spec's bounds).
   * @default spec.gateway.minReplicas
   */
  readonly gatewayReplicas?: number;
}

/** The chart behind `buildClusterObjects`; managed stores only where the spec asks for them. */
export class GossipClusterChart extends Chart {
  constructor(scope: Construct, id: string, props: GossipClusterChartProps) {
    super(scope, id, { namespace: props.cluster.namespace, disableResourceNameHashes: true });
    const { cluster } = props;
    if (cluster.spec.rabbitmq.managed) new ManagedRabbitmq(this, 'Rabbitmq', { cluster });
    if (cluster.spec.mongodb.managed) new ManagedMongodb(this, 'Mongodb', { cluster });
    if (cluster.spec.redis.managed) new ManagedRedis(this, 'Redis', { cluster });
    new GossipApi(this, 'Api', { cluster });
    new GossipEngine(this, 'Engine', { cluster });
    new GossipGateway(this, 'Gateway', { cluster, replicas: props.gatewayReplicas });
    new GatewayDisruptionBudget(this, 'GatewayBudget', { cluster });
    new GossipMonitoring(this, 'Monitoring', { cluster });
    if (cluster.spec.ingress) new GossipIngress(this, 'Ingress', { cluster });
    if (cluster.spec.networkPolicy.enabled) {
      new GossipNetworkPolicies(this, 'NetworkPolicies', { cluster });
    }
  }
}
