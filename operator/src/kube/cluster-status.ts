/**
 * Server-side apply of part of a GossipCluster's status through the status subresource.
 * The reconciler and the autoscaler each write their own fields under their own field
 * manager, so neither removes what the other wrote.
 */
import { PatchStrategy, setHeaderOptions, type CustomObjectsApi } from '@kubernetes/client-node';
import { apiVersion, group, kind, plural, version, type GossipClusterStatus } from '@gossip/cdk8s';

/** Applies `status` (only the fields `fieldManager` owns) to GossipCluster `namespace/name`. */
export async function applyClusterStatus(
  custom: CustomObjectsApi,
  cluster: { namespace: string; name: string },
  status: Partial<GossipClusterStatus>,
  fieldManager: string,
): Promise<void> {
  const { name, namespace } = cluster;
  await custom.patchNamespacedCustomObjectStatus(
    {
      group,
      version,
      namespace,
      plural,
      name,
      body: { apiVersion, kind, metadata: { name, namespace }, status },
      fieldManager,
      force: true,
    },
    setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
  );
}
