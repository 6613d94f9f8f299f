/**
 * The gateway autoscaler loop, run by the leader beside the reconciler. Every
 * interval, for each GossipCluster it reads the gateways' live connection counts
 * (readings.ts), asks `recommend` (recommend.ts) for a replica count, and writes the
 * decision to `status.autoscaler` with server-side apply under its own field
 * manager. It never touches the Deployment itself: the reconciler applies
 * `status.autoscaler.desiredReplicas` as the gateway Deployment's replicas, so the
 * Deployment keeps one owner. Each change is also an Event and a metric.
 *
 * History (recommendations and scale events) lives in memory. A new leader starts
 * with the current replica count as a recommendation, so it too waits a whole
 * stabilization window before it scales down.
 */
import type { V1Deployment } from '@kubernetes/client-node';
import {
  apiVersion,
  kind,
  namesFor,
  resolveCluster,
  selectorFor,
  type AutoscalerStatus,
  type GossipCluster,
} from '@gossip/cdk8s';
import type { EventRecorder } from '../controller/events.js';
import { pauseReason } from '../controller/pause.js';
import { applyClusterStatus } from '../kube/cluster-status.js';
import type { KubeClients } from '../kube/clients.js';
import { describeError } from '../kube/errors.js';
import type { Logger } from '../logger.js';
import type { AutoscalerMetrics } from './metrics.js';
import { gatewayEndpoints, readConnections } from './readings.js';
import { recommend, type Recommendation, type ScaleEvent } from './recommend.js';

export const AUTOSCALER_FIELD_MANAGER = 'gossip-operator-autoscaler';

export interface AutoscalerDeps {
  clients: KubeClients;
  /** GossipClusters from the informer cache. */
  clusters: () => GossipCluster[];
  /** The gateway Deployment from the informer cache. */
  deployment: (namespace: string, name: string) => V1Deployment | undefined;
  /** Wakes the reconciler so it applies the new replica count. */
  enqueue: (key: string) => void;
  recorder: EventRecorder;
  metrics: AutoscalerMetrics;
  logger: Logger;
  intervalMs: number;
  now?: () => number;
}

interface Memory {
  history: Recommendation[];
  events: ScaleEvent[];
}

export class GatewayAutoscaler {
  private readonly memory = new Map<string, Memory>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(private readonly deps: AutoscalerDeps) {
    this.now = deps.now ?? Date.now;
  }

  start(): void {
    const loop = (): void => {
      this.running = this.tick().finally(() => {
        if (this.timer !== undefined) this.timer = setTimeout(loop, this.deps.intervalMs);
      });
    };
    this.timer = setTimeout(loop, this.deps.intervalMs);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One pass over every cluster; a failure on one never stops the others. */
  async tick(): Promise<void> {
    for (const cluster of this.deps.clusters()) {
      const key = `${cluster.metadata.namespace}/${cluster.metadata.name}`;
      try {
        await this.scale(cluster, key);
      } catch (err) {
        this.deps.logger.warn({ cluster: key, err: describeError(err) }, 'autoscaler pass failed');
      }
    }
  }

  private async scale(cluster: GossipCluster, key: string): Promise<void> {
    const meta = cluster.metadata as { deletionTimestamp?: string; uid?: string };
    if (meta.deletionTimestamp || pauseReason(cluster)) return;
    let spec;
    try {
      spec = resolveCluster(cluster).spec.gateway;
    } catch {
      return; // an invalid spec is the reconciler's to report
    }
    const namespace = cluster.metadata.namespace ?? 'default';
    const name = cluster.metadata.name;
    const gatewayName = namesFor(name).app('gateway');
    const deployment = this.deps.deployment(namespace, gatewayName);
    const current = deployment?.spec?.replicas;
    if (current === undefined) return; // not applied yet
    const previous = cluster.status?.autoscaler ?? {};
    if (previous.desiredReplicas !== undefined && previous.desiredReplicas !== current) {
      // The last decision is not applied yet: deciding again from the old count would
      // mis-count the scale-up period. Nudge the reconciler and wait.
      this.deps.enqueue(key);
      return;
    }
    const now = this.now();
    let mem = this.memory.get(key);
    if (!mem) {
      mem = { history: [{ atMs: now, replicas: current }], events: [] };
      this.memory.set(key, mem);
    }
    const endpoints = await gatewayEndpoints(
      this.deps.clients.core,
      namespace,
      selectorFor(name, 'gateway'),
    );
    const pods = await readConnections(endpoints);
    const decision = recommend({
      nowMs: now,
      currentReplicas: current,
      pods,
      policy: {
        minReplicas: spec.minReplicas,
        maxReplicas: spec.maxReplicas,
        targetConnectionsPerPod: spec.targetConnectionsPerPod,
        scaleDownStabilizationSeconds: spec.scaleDownStabilizationSeconds,
      },
      history: mem.history,
      events: mem.events,
    });
    mem.history = decision.history;
    const labels = { namespace, cluster: name };
    this.deps.metrics.observe(labels, {
      current,
      desired: decision.desiredReplicas,
      connections: decision.totalConnections,
      unknownPods: decision.unknownPods,
      maxReplicas: spec.maxReplicas,
      targetConnectionsPerPod: spec.targetConnectionsPerPod,
    });

    const scaled = decision.desiredReplicas !== current;
    const next: AutoscalerStatus = {
      currentReplicas: current,
      desiredReplicas: decision.desiredReplicas,
      connections: decision.totalConnections,
      ...(previous.lastScaleTime ? { lastScaleTime: previous.lastScaleTime } : {}),
      ...(previous.lastScaleReason ? { lastScaleReason: previous.lastScaleReason } : {}),
    };
    if (scaled) {
      next.lastScaleTime = new Date(now).toISOString().replace(/\.\d+Z$/, 'Z');
      next.lastScaleReason = `${decision.reason}: ${decision.message}`;
      mem.events = [
        ...mem.events.filter((e) => now - e.atMs < 60_000),
        { atMs: now, from: current, to: decision.desiredReplicas },
      ];
      const direction = decision.desiredReplicas > current ? 'up' : 'down';
      this.deps.metrics.decision(labels, direction);
      this.deps.recorder.record(
        { apiVersion, kind, name, namespace, uid: meta.uid },
        'Normal',
        direction === 'up' ? 'GatewaysScaledUp' : 'GatewaysScaledDown',
        `gateways ${current} -> ${decision.desiredReplicas}: ${decision.message}`,
      );
      this.deps.logger.info(
        { cluster: key, from: current, to: decision.desiredReplicas, reason: decision.reason },
        decision.message,
      );
    }
    if (!sameStatus(previous, next)) {
      // `status.autoscaler` only, under the autoscaler's own field manager.
      await applyClusterStatus(
        this.deps.clients.custom,
        { namespace, name },
        { autoscaler: next },
        AUTOSCALER_FIELD_MANAGER,
      );
    }
    if (scaled || previous.desiredReplicas !== next.desiredReplicas) this.deps.enqueue(key);
  }
}

function sameStatus(a: AutoscalerStatus, b: AutoscalerStatus): boolean {
  return (
    a.currentReplicas === b.currentReplicas &&
    a.desiredReplicas === b.desiredReplicas &&
    a.connections === b.connections &&
    a.lastScaleTime === b.lastScaleTime &&
    a.lastScaleReason === b.lastScaleReason
  );
}
