/**
 * Reconciles one GossipCluster, level-triggered: whatever event woke it, it re-reads the
 * cluster and drives every owned object to the state the builders describe.
 *
 * Order: gone → return; being deleted → return (owner references let the garbage
 * collector remove the children; PVCs follow the StatefulSets' retention policy, so no
 * finalizer is needed); paused → only the ReconciliationPaused condition; invalid spec →
 * Ready=False/InvalidConfiguration, not retried; else generated Secrets, server-side apply
 * in dependency order, pruning, status.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import {
  InvalidGossipClusterError,
  apiVersion,
  buildClusterObjects,
  kind,
  ownerReferenceFor,
  resolveCluster,
  type GossipCluster,
} from '@gossip/cdk8s';
import type { KubeClients } from '../kube/clients.js';
import { describeError, isNotFound } from '../kube/errors.js';
import type { Logger } from '../logger.js';
import { applyAll, pruneUndesired } from './apply.js';
import type { EventRecorder, InvolvedObject } from './events.js';
import { pauseReason } from './pause.js';
import { ensureSecrets } from './secrets.js';
import { computeStatus, type ClusterRef, type OwnedStatus } from './status.js';
import { StatusWriter } from './status-writer.js';
import { observeWorkloads } from './workloads.js';

export interface ReconcileOutcome {
  result: 'success' | 'paused' | 'invalid' | 'gone';
}

/** Read access to the informer caches. */
export interface CacheView {
  get(kind: string, key: string): KubernetesObject | undefined;
  /** Every cached object of the owned kinds in `namespace`. */
  owned(namespace: string): KubernetesObject[];
}

export interface ReconcilerDeps {
  clients: KubeClients;
  cache: CacheView;
  recorder: EventRecorder;
  logger: Logger;
  now?: () => Date;
}

export class GossipClusterReconciler {
  private readonly status: StatusWriter;
  private readonly now: () => Date;

  constructor(private readonly deps: ReconcilerDeps) {
    this.status = new StatusWriter(deps.clients.custom);
    this.now = deps.now ?? (() => new Date());
  }

  async reconcile(key: string): Promise<ReconcileOutcome> {
    const [namespace = '', name = ''] = key.split('/');
    const { clients, recorder } = this.deps;
    const log = this.deps.logger.child({ cluster: key });
    let cluster: GossipCluster & { metadata: Record<string, unknown> };
    try {
      cluster = (await clients.custom.getNamespacedCustomObject({
        group: 'gossip.dev',
        version: 'v1alpha1',
        namespace,
        plural: 'gossipclusters',
        name,
      })) as typeof cluster;
    } catch (err) {
      if (isNotFound(err)) return { result: 'gone' };
      throw err;
    }
    const meta = cluster.metadata as {
      uid?: string;
      generation?: number;
      deletionTimestamp?: string;
      annotations?: Record<string, string>;
    };
    if (meta.deletionTimestamp) return { result: 'gone' };
    const involved: InvolvedObject = { apiVersion, kind, name, namespace, uid: meta.uid };
    const ref: ClusterRef = {
      name,
      namespace,
      generation: meta.generation,
      conditions: cluster.status?.conditions,
      components: cluster.status?.components,
    };
    const now = this.now()
      .toISOString()
      .replace(/\.\d+Z$/, 'Z');

    const paused = pauseReason(cluster);
    if (paused) {
      if (await this.status.writePaused(cluster, ref, paused, now)) {
        recorder.record(involved, 'Normal', 'ReconciliationPaused', paused);
        log.info({ why: paused }, 'reconciliation paused');
      }
      return { result: 'paused' };
    }

    let objects;
    let ctx;
    try {
      ctx = resolveCluster(cluster, { namespace });
    } catch (err) {
      if (!(err instanceof InvalidGossipClusterError)) throw err;
      const message = err.problems.join('; ');
      await this.status.write(cluster, computeStatus(ref, [], now, { permanent: true, message }));
      recorder.record(involved, 'Warning', 'InvalidConfiguration', message);
      log.warn({ problems: err.problems }, 'invalid spec; not retrying until it changes');
      return { result: 'invalid' };
    }
    const owner = ownerReferenceFor(cluster);
    if (!owner) throw new Error(`GossipCluster ${key} has no uid`);

    let next: OwnedStatus;
    try {
      const secretVersions = await ensureSecrets(
        {
          core: clients.core,
          onCreated: (secret) =>
            recorder.record(involved, 'Normal', 'SecretCreated', `generated Secret ${secret}`),
        },
        ctx,
        owner,
      );
      const desiredGateways = cluster.status?.autoscaler?.desiredReplicas;
      objects = buildClusterObjects(cluster, {
        namespace,
        secretVersions,
        ownerReference: owner,
        ...(desiredGateways !== undefined ? { gatewayReplicas: desiredGateways } : {}),
      });
      const applied = await applyAll(clients.objects, objects, (k, id) =>
        this.deps.cache.get(k, id),
      );
      for (const a of applied) {
        if (a.change === 'unchanged') continue;
        const what = `${a.object.kind} ${a.object.metadata?.name}`;
        recorder.record(involved, 'Normal', a.change === 'created' ? 'Created' : 'Updated', what);
      }
      const pruned = await pruneUndesired(
        clients.objects,
        objects,
        this.deps.cache.owned(namespace),
        owner.uid,
      );
      for (const p of pruned) {
        recorder.record(involved, 'Normal', 'Deleted', `${p.kind} ${p.metadata?.name}`);
      }
      next = computeStatus(ref, observeWorkloads(applied.map((a) => a.object)), now);
    } catch (err) {
      const message = describeError(err);
      recorder.record(involved, 'Warning', 'ReconcileFailed', message);
      await this.status
        .write(cluster, computeStatus(ref, [], now, { permanent: false, message }))
        .catch((e: unknown) => log.warn({ err: describeError(e) }, 'status write failed'));
      throw err;
    }
    await this.status.write(cluster, next);
    return { result: 'success' };
  }
}
