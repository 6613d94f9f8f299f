/** The pause switch: `spec.paused: true` or the annotation, either one pauses. */
import type { GossipCluster } from '@gossip/cdk8s';

export const PAUSE_ANNOTATION = 'gossip.dev/pause-reconciliation';

/** Why the cluster is paused, or `undefined` when it is not. */
export function pauseReason(cluster: GossipCluster): string | undefined {
  if (cluster.spec?.paused === true) return 'spec.paused is true';
  const annotations = (cluster.metadata as { annotations?: Record<string, string> }).annotations;
  if (annotations?.[PAUSE_ANNOTATION] === 'true') return `annotation ${PAUSE_ANNOTATION} is "true"`;
  return undefined;
}
