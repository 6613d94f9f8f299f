/** The plain-JSON Kubernetes object the builders return (what `chart.toJson()` yields). */

/** An owner reference as Kubernetes stores it in `metadata.ownerReferences`. */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** A Kubernetes object as plain JSON, ready for server-side apply. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: OwnerReference[];
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/**
 * Apply order by kind. ConfigMaps, Secrets and ServiceAccounts come first because a pod that
 * starts before the ConfigMap/Secret it reads fails with CreateContainerConfigError (and one
 * naming a missing ServiceAccount is rejected); Services before workloads so the DNS names the
 * pods dial exist when they start; NetworkPolicies before workloads so no pod runs unconfined;
 * disruption budgets and monitoring after what they select.
 */
export const applyOrder: readonly string[] = [
  'ServiceAccount',
  'ConfigMap',
  'Secret',
  'Service',
  'NetworkPolicy',
  'StatefulSet',
  'Deployment',
  'PodDisruptionBudget',
  'Ingress',
  'ServiceMonitor',
  'PrometheusRule',
];

/** A stable sort of `objects` into {@link applyOrder} (unknown kinds last). */
export function sortForApply<T extends { kind: string }>(objects: readonly T[]): T[] {
  const rank = (kind: string) => {
    const i = applyOrder.indexOf(kind);
    return i === -1 ? applyOrder.length : i;
  };
  return objects
    .map((object, index) => ({ object, index }))
    .sort((a, b) => rank(a.object.kind) - rank(b.object.kind) || a.index - b.index)
    .map(({ object }) => object);
}
