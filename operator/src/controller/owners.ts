/**
 * Maps a changed owned object back to the GossipCluster to reconcile: through its controller
 * ownerReference, else through the operator's labels (objects the operator labelled but does
 * not own). Secrets are not watched (they are read by name), so none arrive here.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { apiVersion as gossipApiVersion, kind as gossipKind, managedBy } from '@gossip/cdk8s';

/** `namespace/name` keys of the GossipClusters that `obj` belongs to. */
export function ownerKeys(obj: KubernetesObject): string[] {
  const ns = obj.metadata?.namespace;
  if (!ns) return [];
  const keys = new Set<string>();
  const ref = obj.metadata?.ownerReferences?.find(
    (r) => r.controller && r.kind === gossipKind && r.apiVersion === gossipApiVersion,
  );
  if (ref) keys.add(`${ns}/${ref.name}`);
  const labels = obj.metadata?.labels ?? {};
  const instance = labels['app.kubernetes.io/instance'];
  if (!ref && instance && labels['app.kubernetes.io/managed-by'] === managedBy) {
    keys.add(`${ns}/${instance}`);
  }
  return [...keys];
}
