/**
 * `buildClusterObjects`: the pure function from a GossipCluster to the Kubernetes objects it
 * needs. The operator applies its result with server-side apply; `npm run synth` writes it out.
 */
import { App } from 'cdk8s';
import { validateGossipCluster } from './api/validate.js';
import type { GossipCluster } from './api/v1alpha1.js';
import { apiVersion, kind } from './api/v1alpha1.js';
import { GossipClusterChart } from './constructs/cluster-chart.js';
import type { ClusterContext } from './constructs/context.js';
import type { KubeObject, OwnerReference } from './constructs/kube-object.js';
import { sortForApply } from './constructs/kube-object.js';

export interface BuildOptions {
  /**
   * Namespace used when `cluster.metadata.namespace` is unset.
   * @default 'default'
   */
  readonly namespace?: string;
  /**
   * Version per Secret name that pods read (the operator passes each Secret's
   * `metadata.resourceVersion`), folded into the pod templates' config hash so that a changed
   * Secret rolls the pods that read it. Unlisted Secrets count by name only.
   * @default {}
   */
  readonly secretVersions?: Readonly<Record<string, string>>;
  /**
   * Gateway replicas the operator's autoscaler decided; clamped to min/max of the spec.
   * @default spec.gateway.minReplicas
   */
  readonly gatewayReplicas?: number;
  /**
   * Set as the only `ownerReferences` entry of every object. The builders add it (rather than
   * leaving it to the operator) so the applied object is complete and server-side apply owns
   * the field. `undefined` derives a controller reference from `cluster.metadata.uid` when the
   * cluster came from the API server, else none (static manifests); `null` never adds one.
   * @default ownerReferenceFor(cluster) when metadata.uid is set, else none
   */
  readonly ownerReference?: OwnerReference | null;
}

/** The controller owner reference of a GossipCluster read from the API server. */
export function ownerReferenceFor(cluster: GossipCluster): OwnerReference | undefined {
  const uid = cluster.metadata.uid;
  if (typeof uid !== 'string' || uid === '') return undefined;
  const { name } = cluster.metadata;
  return { apiVersion, kind, name, uid, controller: true, blockOwnerDeletion: true };
}

/**
 * Defaults and validates `cluster` (status is ignored) and resolves what the constructs need.
 * @throws InvalidGossipClusterError when the spec is invalid
 */
export function resolveCluster(cluster: GossipCluster, opts: BuildOptions = {}): ClusterContext {
  const { status: _status, ...rest } = cluster;
  const resolved = validateGossipCluster(rest);
  return {
    name: resolved.metadata.name,
    namespace: resolved.metadata.namespace ?? opts.namespace ?? 'default',
    spec: resolved.spec,
    secretVersions: { ...opts.secretVersions },
  };
}

/**
 * Every object a GossipCluster needs, as plain JSON in apply order (ConfigMaps, Secrets and
 * ServiceAccounts before the workloads that read them: see `applyOrder`). Never contains
 * generated Secret values: see `buildGeneratedSecrets`.
 * @throws InvalidGossipClusterError when the spec is invalid
 */
export function buildClusterObjects(cluster: GossipCluster, opts: BuildOptions = {}): KubeObject[] {
  const owner =
    opts.ownerReference === undefined ? ownerReferenceFor(cluster) : opts.ownerReference;
  return buildResolvedObjects(resolveCluster(cluster, opts), {
    gatewayReplicas: opts.gatewayReplicas,
    ownerReference: owner ?? null,
  });
}

/**
 * {@link buildClusterObjects} for a cluster already resolved by {@link resolveCluster}: the
 * operator resolves the spec once per reconcile and builds from that, without validating again.
 */
export function buildResolvedObjects(
  ctx: ClusterContext,
  opts: Pick<BuildOptions, 'gatewayReplicas'> & { readonly ownerReference: OwnerReference | null },
): KubeObject[] {
  const app = new App();
  const chart = new GossipClusterChart(app, ctx.name, {
    cluster: ctx,
    gatewayReplicas: opts.gatewayReplicas,
  });
  const objects = chart.toJson() as KubeObject[];
  if (opts.ownerReference) {
    for (const object of objects) object.metadata.ownerReferences = [{ ...opts.ownerReference }];
  }
  return sortForApply(objects);
}
