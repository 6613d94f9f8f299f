/**
 * `dataRetentionPolicy: Delete` made certain: a finalizer on the GossipCluster (see
 * `dataRetentionFinalizer`) keeps it until the operator has deleted the managed stores'
 * PersistentVolumeClaims; under `Retain` there is no finalizer and the claims stay.
 * Finalizers set by others are left alone.
 */
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import {
  dataRetentionFinalizer,
  group,
  instanceLabels,
  plural,
  toLabelSelector,
  version,
  type GossipCluster,
} from '@gossip/cdk8s';
import type { KubeClients } from '../kube/clients.js';
import { isNotFound } from '../kube/errors.js';

function finalizersOf(cluster: GossipCluster): string[] | undefined {
  const f = cluster.metadata.finalizers;
  return Array.isArray(f) ? f.filter((x): x is string => typeof x === 'string') : undefined;
}

export function hasFinalizer(cluster: GossipCluster): boolean {
  return (finalizersOf(cluster) ?? []).includes(dataRetentionFinalizer);
}

/**
 * Adds (`on`) or removes the finalizer with a JSON patch guarded by a `test` of what the
 * cached object held: if the list changed meanwhile the API server refuses the patch and
 * the reconcile is retried on the newer object. A cluster that is gone is no error.
 */
export async function setFinalizer(
  clients: Pick<KubeClients, 'custom'>,
  cluster: GossipCluster,
  on: boolean,
): Promise<void> {
  const { name, namespace = '' } = cluster.metadata;
  const list = finalizersOf(cluster);
  const at = list?.indexOf(dataRetentionFinalizer) ?? -1;
  let body: object[];
  if (on) {
    if (at >= 0) return;
    body = list
      ? [
          { op: 'test', path: '/metadata/finalizers', value: list },
          { op: 'add', path: '/metadata/finalizers/-', value: dataRetentionFinalizer },
        ]
      : [{ op: 'add', path: '/metadata/finalizers', value: [dataRetentionFinalizer] }];
  } else {
    if (at < 0) return;
    body = [
      { op: 'test', path: `/metadata/finalizers/${at}`, value: dataRetentionFinalizer },
      { op: 'remove', path: `/metadata/finalizers/${at}` },
    ];
  }
  try {
    await clients.custom.patchNamespacedCustomObject(
      { group, version, namespace, plural, name, body },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
  } catch (err) {
    if (!on && isNotFound(err)) return;
    throw err;
  }
}

/**
 * Deletes the PVCs of `cluster`'s managed stores (its labels, the operator's `managed-by`);
 * returns their names. A claim still mounted is only marked for deletion (the
 * `kubernetes.io/pvc-protection` finalizer) and goes once its pod has.
 */
export async function deleteStoreClaims(
  clients: Pick<KubeClients, 'core'>,
  cluster: GossipCluster,
): Promise<string[]> {
  const namespace = cluster.metadata.namespace ?? '';
  const list = await clients.core.listNamespacedPersistentVolumeClaim({
    namespace,
    labelSelector: toLabelSelector(instanceLabels(cluster.metadata.name)),
  });
  const deleted: string[] = [];
  for (const pvc of list.items) {
    const name = pvc.metadata?.name;
    if (!name || pvc.metadata?.deletionTimestamp) continue;
    try {
      await clients.core.deleteNamespacedPersistentVolumeClaim({ name, namespace });
      deleted.push(name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  return deleted;
}
