/**
 * The status the operator reports, computed by pure functions from what it observed:
 * the workloads' replica counts and the outcome of the reconcile. Only the fields the
 * operator owns are here; `status.autoscaler` belongs to the autoscaler's field manager.
 */
import type { Condition, GossipClusterStatus } from '@gossip/cdk8s';
import { namesFor, ports, serviceHost } from '@gossip/cdk8s';
import { ConditionType, Reason, setConditions, type ConditionInput } from './conditions.js';

export type OwnedStatus = Pick<
  GossipClusterStatus,
  'observedGeneration' | 'conditions' | 'components' | 'endpoints'
>;
export type ComponentName = keyof NonNullable<GossipClusterStatus['components']>;

/** One Deployment or StatefulSet as the last apply returned it. */
export interface WorkloadObservation {
  component: ComponentName;
  desired: number;
  generation?: number;
  observedGeneration?: number;
  replicas?: number;
  readyReplicas?: number;
  updatedReplicas?: number;
}

export interface ClusterRef {
  name: string;
  namespace: string;
  generation: number | undefined;
  conditions: readonly Condition[] | undefined;
  /** The counts reported last; kept when a failed reconcile observed no workloads. */
  components?: OwnedStatus['components'];
}

function isRolledOut(w: WorkloadObservation): boolean {
  const seen = w.generation === undefined || (w.observedGeneration ?? 0) >= w.generation;
  return seen && (w.readyReplicas ?? 0) >= w.desired && (w.updatedReplicas ?? 0) >= w.desired;
}

export function endpointsFor(name: string, namespace: string): OwnedStatus['endpoints'] {
  const names = namesFor(name);
  return {
    api: `http://${serviceHost(names.app('api'), namespace)}:${ports.api}`,
    gateway: `ws://${serviceHost(names.app('gateway'), namespace)}:${ports.gateway}/ws`,
  };
}

/** Status after a reconcile that applied everything (or failed with `error`). */
export function computeStatus(
  cluster: ClusterRef,
  workloads: readonly WorkloadObservation[],
  now: string,
  error?: { permanent: boolean; message: string },
): OwnedStatus {
  const components: NonNullable<OwnedStatus['components']> = {};
  for (const w of workloads) {
    components[w.component] = { replicas: w.desired, readyReplicas: w.readyReplicas ?? 0 };
  }
  const pending = workloads.filter((w) => !isRolledOut(w));
  const summary = pending
    .map((w) => `${w.component} ${w.readyReplicas ?? 0}/${w.desired} ready`)
    .join(', ');
  let next: ConditionInput[];
  if (error?.permanent) {
    const c = (type: string, status: 'True' | 'False'): ConditionInput => ({
      type,
      status,
      reason: Reason.InvalidConfiguration,
      message: error.message,
    });
    next = [
      c(ConditionType.Ready, 'False'),
      c(ConditionType.Progressing, 'False'),
      c(ConditionType.Degraded, 'True'),
    ];
  } else {
    const ready = pending.length === 0 && workloads.length > 0 && !error;
    next = [
      ready
        ? {
            type: ConditionType.Ready,
            status: 'True',
            reason: Reason.AllComponentsReady,
            message: 'every component has all its replicas ready',
          }
        : {
            type: ConditionType.Ready,
            status: 'False',
            reason: error ? Reason.ReconcileFailed : Reason.ComponentsNotReady,
            message: error ? error.message : summary || 'waiting for workloads',
          },
      pending.length > 0
        ? {
            type: ConditionType.Progressing,
            status: 'True',
            reason: Reason.RollingOut,
            message: summary,
          }
        : {
            type: ConditionType.Progressing,
            status: 'False',
            reason: Reason.RolloutComplete,
            message: 'every workload runs the current spec',
          },
      error
        ? {
            type: ConditionType.Degraded,
            status: 'True',
            reason: Reason.ReconcileFailed,
            message: error.message,
          }
        : {
            type: ConditionType.Degraded,
            status: 'False',
            reason: Reason.AsExpected,
            message: 'the last reconcile succeeded',
          },
    ];
  }
  next.push({
    type: ConditionType.ReconciliationPaused,
    status: 'False',
    reason: Reason.NotPaused,
    message: 'reconciling',
  });
  return {
    observedGeneration: cluster.generation,
    conditions: setConditions(cluster.conditions, next, now, cluster.generation),
    components:
      error && workloads.length === 0 && cluster.components ? cluster.components : components,
    endpoints: endpointsFor(cluster.name, cluster.namespace),
  };
}

/** The only change made to a paused cluster: its ReconciliationPaused condition. */
export function pausedConditions(cluster: ClusterRef, why: string, now: string): Condition[] {
  return setConditions(
    cluster.conditions,
    [
      {
        type: ConditionType.ReconciliationPaused,
        status: 'True',
        reason: Reason.Paused,
        message: why,
      },
    ],
    now,
    cluster.generation,
  );
}

/** True when `next` differs from what the cluster reports now (so a write is needed). */
export function statusChanged(
  current: GossipClusterStatus | undefined,
  next: OwnedStatus,
): boolean {
  const pick = (s: OwnedStatus | undefined) =>
    canonical([s?.observedGeneration, s?.conditions, s?.components, s?.endpoints]);
  return pick(current) !== pick(next);
}

/** JSON with object keys sorted: the API server returns custom resources' keys sorted. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}
