/**
 * The autoscaler's metrics, registered on the operator's registry: what it sees
 * and decides per cluster. The labels are the GossipCluster's namespace and name
 * (objects the operator manages, never client-supplied values).
 */
import { Counter, Gauge, type Registry } from 'prom-client';

type Labels = { namespace: string; cluster: string };

export class AutoscalerMetrics {
  private readonly desired: Gauge<'namespace' | 'cluster'>;
  private readonly current: Gauge<'namespace' | 'cluster'>;
  private readonly connections: Gauge<'namespace' | 'cluster'>;
  private readonly unknown: Gauge<'namespace' | 'cluster'>;
  private readonly max: Gauge<'namespace' | 'cluster'>;
  private readonly target: Gauge<'namespace' | 'cluster'>;
  private readonly decisions: Counter<'namespace' | 'cluster' | 'direction'>;

  constructor(registry: Registry) {
    const registers = [registry];
    const labelNames = ['namespace', 'cluster'] as const;
    this.desired = new Gauge({
      name: 'gossip_operator_gateway_desired_replicas',
      help: 'Gateway replicas the autoscaler wants.',
      labelNames,
      registers,
    });
    this.current = new Gauge({
      name: 'gossip_operator_gateway_current_replicas',
      help: 'Gateway replicas of the Deployment when the autoscaler last looked.',
      labelNames,
      registers,
    });
    this.connections = new Gauge({
      name: 'gossip_operator_gateway_connections',
      help: 'Open WebSocket connections over the gateways whose count could be read.',
      labelNames,
      registers,
    });
    this.unknown = new Gauge({
      name: 'gossip_operator_gateway_unknown_pods',
      help: 'Gateway pods whose connection count could not be read.',
      labelNames,
      registers,
    });
    this.max = new Gauge({
      name: 'gossip_operator_gateway_max_replicas',
      help: 'spec.gateway.maxReplicas, for alerts on gateways pinned at their maximum.',
      labelNames,
      registers,
    });
    this.target = new Gauge({
      name: 'gossip_operator_gateway_target_connections_per_pod',
      help: 'spec.gateway.targetConnectionsPerPod.',
      labelNames,
      registers,
    });
    this.decisions = new Counter({
      name: 'gossip_operator_scaling_decisions_total',
      help: 'Gateway scale changes the autoscaler made, by direction.',
      labelNames: ['namespace', 'cluster', 'direction'],
      registers,
    });
  }

  observe(
    labels: Labels,
    v: {
      current: number;
      desired: number;
      connections: number;
      unknownPods: number;
      maxReplicas: number;
      targetConnectionsPerPod: number;
    },
  ): void {
    this.max.set(labels, v.maxReplicas);
    this.target.set(labels, v.targetConnectionsPerPod);
    this.current.set(labels, v.current);
    this.desired.set(labels, v.desired);
    this.connections.set(labels, v.connections);
    this.unknown.set(labels, v.unknownPods);
    // Both directions exist from the first observation, so rate() sees a zero start.
    this.decisions.inc({ ...labels, direction: 'up' }, 0);
    this.decisions.inc({ ...labels, direction: 'down' }, 0);
  }

  decision(labels: Labels, direction: 'up' | 'down'): void {
    this.decisions.inc({ ...labels, direction });
  }
}
