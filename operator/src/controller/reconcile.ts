/**
 * Reconciles one GossipCluster, level-triggered: whatever event woke it, it reads the
 * cluster from the informer's cache and drives every owned object to the state the
 * builders describe.
 *
 * Order: gone → done; being deleted → done (owner references let the garbage collector
 * remove the children), after deleting the managed stores' PVCs when the cluster carries
 * the data-retention finalizer (./data-retention.ts: `dataRetentionPolicy: Delete` sets it,
 * `Retain` removes it, before anything is applied); paused → only the ReconciliationPaused
 * condition; invalid spec → Ready=False/InvalidConfiguration and a {@link TerminalError} (not retried); else the spec
 * is resolved once and that resolved cluster feeds generated Secrets, the builders,
 * server-side apply in dependency order, pruning and status.
 *
 * The result asks for a timed re-reconcile when the cluster reads external Secrets: the
 * operator never watches Secrets (see ./secrets.ts), so that is how it notices them change.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import {
  InvalidGossipClusterError,
  apiVersion,
  buildResolvedObjects,
  kind,
  ownerReferenceFor,
  resolveCluster,
  type ClusterContext,
  type GossipCluster,
} from '@gossip/cdk8s';
import type { KubeClients } from '../kube/clients.js';
import { describeError } from '../kube/errors.js';
import type { Logger } from '../logger.js';
import { applyAll, pruneUndesired } from './apply.js';
import { deleteStoreClaims, hasFinalizer, setFinalizer } from './data-retention.js';
import type { EventRecorder, InvolvedObject } from './events.js';
import { pauseReason } from './pause.js';
import { DONE, TerminalError, type ReconcileResult } from './result.js';
import { ensureSecrets, externalSecretNames } from './secrets.js';
import { computeStatus, type ClusterRef, type OwnedStatus } from './status.js';
import { StatusWriter } from './status-writer.js';
import { observeWorkloads } from './workloads.js';

/** Read access to the informer caches. */
export interface CacheView {
  /** The GossipCluster `namespace/name`, or undefined when it is gone. */
  cluster(key: string): GossipCluster | undefined;
  get(kind: string, key: string): KubernetesObject | undefined;
  /** Every cached object of the owned kinds in `namespace`. */
  owned(namespace: string): KubernetesObject[];
}

export interface ReconcilerDeps {
  clients: KubeClients;
  cache: CacheView;
  recorder: EventRecorder;
  /** How often a cluster that reads external Secrets is reconciled again (ms). */
  secretRecheckMs: number;
  now?: () => Date;
}

export class GossipClusterReconciler {
  private readonly status: StatusWriter;
  private readonly now: () => Date;

  constructor(private readonly deps: ReconcilerDeps) {
    this.status = new StatusWriter(deps.clients.custom);
    this.now = deps.now ?? (() => new Date());
  }

  /**
   * One pass over the cluster `key` (`namespace/name`), logging to `log`.
   * @throws TerminalError when the spec is invalid (after reporting it in the status)
   */
  async reconcile(key: string, log: Logger): Promise<ReconcileResult> {
    const cluster = this.deps.cache.cluster(key);
    if (!cluster) return DONE;
    const meta = cluster.metadata as {
      uid?: string;
      generation?: number;
      deletionTimestamp?: string;
    };
    const { name } = cluster.metadata;
    const namespace = cluster.metadata.namespace ?? '';
    const involved: InvolvedObject = { apiVersion, kind, name, namespace, uid: meta.uid };
    if (meta.deletionTimestamp) {
      if (!hasFinalizer(cluster)) return DONE;
      const claims = await deleteStoreClaims(this.deps.clients, cluster);
      if (claims.length > 0) {
        const what = `PersistentVolumeClaims ${claims.join(', ')} (dataRetentionPolicy Delete)`;
        this.deps.recorder.record(involved, 'Normal', 'Deleted', what);
        log.info({ claims }, 'deleted the stores’ volume claims');
      }
      await setFinalizer(this.deps.clients, cluster, false);
      return DONE;
    }
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
        this.deps.recorder.record(involved, 'Normal', 'ReconciliationPaused', paused);
        log.info({ why: paused }, 'reconciliation paused');
      }
      return DONE;
    }
    // Before anything is created: no claim may exist without the finalizer that removes it.
    const wantFinalizer = cluster.spec?.dataRetentionPolicy === 'Delete';
    if (wantFinalizer !== hasFinalizer(cluster)) {
      await setFinalizer(this.deps.clients, cluster, wantFinalizer);
    }

    let ctx: ClusterContext;
    try {
      ctx = resolveCluster(cluster, { namespace });
    } catch (err) {
      if (!(err instanceof InvalidGossipClusterError)) throw err;
      const message = err.problems.join('; ');
      await this.status.write(cluster, computeStatus(ref, [], now, { permanent: true, message }));
      this.deps.recorder.record(involved, 'Warning', 'InvalidConfiguration', message);
      log.warn({ problems: err.problems }, 'invalid spec');
      throw new TerminalError(`invalid spec: ${message}`, { cause: err });
    }

    let next: OwnedStatus;
    try {
      next = await this.applyResolved(cluster, ctx, ref, involved, now);
    } catch (err) {
      const message = describeError(err);
      this.deps.recorder.record(involved, 'Warning', 'ReconcileFailed', message);
      await this.status
        .write(cluster, computeStatus(ref, [], now, { permanent: false, message }))
        .catch((e: unknown) => log.warn({ err: describeError(e) }, 'status write failed'));
      throw err;
    }
    await this.status.write(cluster, next);
    return externalSecretNames(ctx).length > 0
      ? { requeueAfterMs: this.deps.secretRecheckMs }
      : DONE;
  }

  /** Secrets, build, apply and prune for the resolved `ctx`; returns the status to write. */
  private async applyResolved(
    cluster: GossipCluster,
    ctx: ClusterContext,
    ref: ClusterRef,
    involved: InvolvedObject,
    now: string,
  ): Promise<OwnedStatus> {
    const { clients, recorder, cache } = this.deps;
    const owner = ownerReferenceFor(cluster);
    if (!owner) throw new Error(`GossipCluster ${ctx.namespace}/${ctx.name} has no uid`);
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
    const objects = buildResolvedObjects(
      { ...ctx, secretVersions },
      {
        ownerReference: owner,
        ...(desiredGateways !== undefined ? { gatewayReplicas: desiredGateways } : {}),
      },
    );
    const applied = await applyAll(clients.objects, objects, (k, id) => cache.get(k, id));
    for (const a of applied) {
      if (a.change === 'unchanged') continue;
      const what = `${a.object.kind} ${a.object.metadata?.name}`;
      recorder.record(involved, 'Normal', a.change === 'created' ? 'Created' : 'Updated', what);
    }
    const pruned = await pruneUndesired(
      clients.objects,
      objects,
      cache.owned(ctx.namespace),
      owner.uid,
    );
    for (const p of pruned) {
      recorder.record(involved, 'Normal', 'Deleted', `${p.kind} ${p.metadata?.name}`);
    }
    return computeStatus(ref, observeWorkloads(applied.map((a) => a.object)), now);
  }
}
