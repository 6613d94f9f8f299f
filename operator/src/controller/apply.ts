/**
 * Server-side apply of a cluster's desired objects under the one field manager, in the
 * builders' dependency order (ConfigMaps and Secrets before the workloads that read them,
 * Services before the pods that dial them), and pruning of owned objects that are no
 * longer desired (for example a backing service switched from managed to external).
 *
 * `force` takes fields back from anyone who edited them: that is how drift is corrected.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeObject } from '@gossip/cdk8s';
import type { ApplyApi } from '../kube/apply-api.js';
import { FIELD_MANAGER } from '../kube/clients.js';
import { isNotFound } from '../kube/errors.js';

export type ChangeKind = 'created' | 'updated' | 'unchanged';

export interface AppliedObject {
  object: KubernetesObject;
  change: ChangeKind;
}

const refOf = (o: { kind?: string; metadata?: { namespace?: string; name?: string } }) =>
  `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

/**
 * Applies `objects` in order. `cached` returns the informer's copy of an object (by kind
 * and `namespace/name`), only to tell created, updated and unchanged apart for events.
 */
export async function applyAll(
  api: ApplyApi,
  objects: readonly KubeObject[],
  cached: (kind: string, key: string) => KubernetesObject | undefined,
): Promise<AppliedObject[]> {
  const applied: AppliedObject[] = [];
  for (const desired of objects) {
    const key = `${desired.metadata.namespace ?? ''}/${desired.metadata.name}`;
    const before = cached(desired.kind, key);
    const result = await api.apply(desired as KubernetesObject, FIELD_MANAGER);
    const object: KubernetesObject = {
      ...result,
      apiVersion: desired.apiVersion,
      kind: desired.kind,
    };
    const change: ChangeKind = !before
      ? 'created'
      : before.metadata?.resourceVersion !== result.metadata?.resourceVersion
        ? 'updated'
        : 'unchanged';
    applied.push({ object, change });
  }
  return applied;
}

/**
 * Deletes objects controlled by the cluster (`ownerUid`) that are not in `desired`.
 * `owned` lists candidates from the informer caches of the owned kinds.
 */
export async function pruneUndesired(
  api: ApplyApi,
  desired: readonly KubeObject[],
  owned: readonly KubernetesObject[],
  ownerUid: string,
): Promise<KubernetesObject[]> {
  const wanted = new Set(desired.map(refOf));
  const deleted: KubernetesObject[] = [];
  for (const o of owned) {
    const controlled = o.metadata?.ownerReferences?.some((r) => r.controller && r.uid === ownerUid);
    if (!controlled || wanted.has(refOf(o)) || o.kind === 'Secret') continue;
    try {
      await api.delete(o, undefined, undefined, undefined, undefined, 'Background');
      deleted.push(o);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  return deleted;
}
