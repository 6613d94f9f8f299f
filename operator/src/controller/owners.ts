/**
 * Maps a changed owned object back to the GossipCluster(s) to reconcile: through its
 * controller ownerReference, else through the operator's labels (credentials Secrets kept
 * without an owner under `dataRetentionPolicy: Retain`), and for Secrets also through the
 * clusters whose spec references them as external connection Secrets.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { apiVersion as gossipApiVersion, kind as gossipKind, managedBy } from '@gossip/cdk8s';
import type { GossipCluster } from '@gossip/cdk8s';

const services = ['rabbitmq', 'mongodb', 'redis'] as const;

/** `namespace/name` keys of the GossipClusters that `obj` belongs to or is read by. */
export function ownerKeys(obj: KubernetesObject, clusters: () => KubernetesObject[]): string[] {
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
  if (obj.kind === 'Secret') {
    const name = obj.metadata?.name;
    for (const c of clusters() as GossipCluster[]) {
      if (c.metadata.namespace !== ns) continue;
      if (services.some((s) => c.spec?.[s]?.external?.secretRef.name === name)) {
        keys.add(`${ns}/${c.metadata.name}`);
      }
    }
  }
  return [...keys];
}
