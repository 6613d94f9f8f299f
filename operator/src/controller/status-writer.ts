/**
 * Writes the operator's part of a GossipCluster's status through the status subresource,
 * with server-side apply under the operator's field manager (so `status.autoscaler`,
 * written under another manager, is left alone). Skips the write when nothing changed,
 * which also keeps status writes from waking the controller in a loop.
 */
import type { CustomObjectsApi } from '@kubernetes/client-node';
import type { GossipCluster } from '@gossip/cdk8s';
import { applyClusterStatus } from '../kube/cluster-status.js';
import { FIELD_MANAGER } from '../kube/clients.js';
import { pausedConditions, statusChanged, type ClusterRef, type OwnedStatus } from './status.js';

export class StatusWriter {
  constructor(private readonly custom: CustomObjectsApi) {}

  /** Applies `next` if it differs from the cluster's status; true when it wrote. */
  async write(cluster: GossipCluster, next: OwnedStatus): Promise<boolean> {
    if (!statusChanged(cluster.status, next)) return false;
    const { name, namespace = '' } = cluster.metadata;
    await applyClusterStatus(this.custom, { name, namespace }, next, FIELD_MANAGER);
    return true;
  }

  /** Sets ReconciliationPaused and re-applies everything else as it is. */
  async writePaused(
    cluster: GossipCluster,
    ref: ClusterRef,
    why: string,
    now: string,
  ): Promise<boolean> {
    const s = cluster.status ?? {};
    const next: OwnedStatus = {
      ...(s.observedGeneration !== undefined ? { observedGeneration: s.observedGeneration } : {}),
      conditions: pausedConditions(ref, why, now),
      ...(s.components ? { components: s.components } : {}),
      ...(s.endpoints ? { endpoints: s.endpoints } : {}),
    };
    return this.write(cluster, next);
  }
}
