/**
 * Pure functions over `metav1.Condition` lists: a condition keeps its
 * `lastTransitionTime` unless its status actually changes, so `kubectl describe` tells
 * how long the cluster has been Ready (or not), not when the operator last looked.
 */
import type { Condition } from '@gossip/cdk8s';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
}

/** Returns a new list with `next` set; other conditions are kept as they are. */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  next: ConditionInput,
  now: string,
  observedGeneration: number | undefined,
): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === next.type);
  const old = i === -1 ? undefined : list[i];
  const condition: Condition = {
    type: next.type,
    status: next.status,
    reason: next.reason,
    message: next.message.slice(0, 32768),
    lastTransitionTime: old && old.status === next.status ? old.lastTransitionTime : now,
    ...(observedGeneration !== undefined ? { observedGeneration } : {}),
  };
  if (i === -1) list.push(condition);
  else list[i] = condition;
  return list;
}

/** Sets several conditions in order. */
export function setConditions(
  conditions: readonly Condition[] | undefined,
  next: readonly ConditionInput[],
  now: string,
  observedGeneration: number | undefined,
): Condition[] {
  return next.reduce<Condition[]>(
    (list, c) => setCondition(list, c, now, observedGeneration),
    [...(conditions ?? [])],
  );
}

/** Condition types and reasons the operator writes (part of the API: alerts key on them). */
export const ConditionType = {
  Ready: 'Ready',
  Progressing: 'Progressing',
  Degraded: 'Degraded',
  ReconciliationPaused: 'ReconciliationPaused',
} as const;

export const Reason = {
  AllComponentsReady: 'AllComponentsReady',
  ComponentsNotReady: 'ComponentsNotReady',
  RollingOut: 'RollingOut',
  RolloutComplete: 'RolloutComplete',
  AsExpected: 'AsExpected',
  InvalidConfiguration: 'InvalidConfiguration',
  ReconcileFailed: 'ReconcileFailed',
  Paused: 'Paused',
  NotPaused: 'NotPaused',
} as const;
