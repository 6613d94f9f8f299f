/**
 * The controllers one leader runs: informers for GossipClusters and every owned kind,
 * one work queue, the reconcile workers. Built fresh each time this replica becomes
 * leader and stopped when it stops leading, so a replica that lost the Lease keeps
 * nothing running.
 */
import type { V1Deployment } from '@kubernetes/client-node';
import { apiVersion, kind, managedBy, plural, singular, type GossipCluster } from '@gossip/cdk8s';
import type { OperatorConfig } from './config.js';
import { Controller } from './controller/controller.js';
import { GatewayAutoscaler } from './autoscaler/controller.js';
import { AutoscalerMetrics } from './autoscaler/metrics.js';
import { EventRecorder } from './controller/events.js';
import { ownerKeys } from './controller/owners.js';
import { GossipClusterReconciler } from './controller/reconcile.js';
import { Informer, objectKey } from './informer/informer.js';
import { kubeSource, type ResourceType } from './informer/source.js';
import type { KubeClients } from './kube/clients.js';
import type { Logger } from './logger.js';
import type { OperatorMetrics } from './metrics.js';
import { WorkQueue } from './workqueue/index.js';

/**
 * The kinds a GossipCluster owns and the operator watches (keyed by kind), each only where
 * the operator's label is set. Secrets are not among them: the operator reads the Secrets it
 * needs by name (controller/secrets.ts), so it never lists or watches Secrets at all.
 */
export const OWNED_KINDS: readonly ResourceType[] = [
  { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments' },
  { apiVersion: 'apps/v1', kind: 'StatefulSet', plural: 'statefulsets' },
  { apiVersion: 'v1', kind: 'Service', plural: 'services' },
  { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps' },
  { apiVersion: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts' },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', plural: 'poddisruptionbudgets' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', plural: 'networkpolicies' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', plural: 'ingresses' },
];

/** The controller's name in metrics and logs: controller-runtime's, the lower-case kind. */
const CONTROLLER = singular;

export interface OperatorDeps {
  config: OperatorConfig;
  clients: KubeClients;
  metrics: OperatorMetrics;
  logger: Logger;
}

export class GossipOperator {
  private readonly queue: WorkQueue;
  private readonly clusters: Informer;
  private readonly owned = new Map<string, Informer>();
  private readonly controller: Controller;
  private starting: Promise<void> | undefined;
  private stopped = false;
  private readonly autoscaler: GatewayAutoscaler;

  constructor(deps: OperatorDeps) {
    const { config, clients, metrics, logger } = deps;
    this.queue = new WorkQueue({ metrics: metrics.queueHooks(CONTROLLER) });
    const namespace = config.watchNamespace;
    this.clusters = new Informer({
      source: kubeSource(clients.kc, { apiVersion, kind, plural }, { namespace }),
      onChange: (obj) => this.queue.add(objectKey(obj)),
      logger: logger.child({ component: 'informer' }),
      resyncMs: config.resyncSeconds * 1000,
    });
    for (const type of OWNED_KINDS) {
      const informer = new Informer({
        source: kubeSource(clients.kc, type, {
          namespace,
          labelSelector: `app.kubernetes.io/managed-by=${managedBy}`,
        }),
        onChange: (obj) => {
          for (const key of ownerKeys(obj)) this.queue.add(key);
        },
        logger: logger.child({ component: 'informer' }),
      });
      this.owned.set(type.kind, informer);
    }
    const recorder = new EventRecorder(clients.core, logger, config.identity);
    const reconciler = new GossipClusterReconciler({
      clients,
      recorder,
      secretRecheckMs: config.secretRecheckSeconds * 1000,
      cache: {
        cluster: (key) => this.clusters.get(key) as GossipCluster | undefined,
        get: (k, key) => this.owned.get(k)?.get(key),
        owned: (ns) =>
          [...this.owned.values()].flatMap((i) =>
            i.list().filter((o) => o.metadata?.namespace === ns),
          ),
      },
    });
    this.controller = new Controller({
      name: CONTROLLER,
      queue: this.queue,
      reconcile: (key, log) => reconciler.reconcile(key, log),
      metrics,
      logger: logger.child({ component: 'reconciler' }),
      workers: config.workers,
    });
    this.autoscaler = new GatewayAutoscaler({
      clients,
      clusters: () => this.clusters.list() as GossipCluster[],
      deployment: (ns, name) => this.owned.get('Deployment')?.get(`${ns}/${name}`) as V1Deployment,
      enqueue: (key) => this.queue.add(key),
      recorder,
      metrics: new AutoscalerMetrics(metrics.registry),
      logger: logger.child({ component: 'autoscaler' }),
      intervalMs: config.autoscaleIntervalSeconds * 1000,
    });
  }

  /**
   * Starts the informers and returns at once; the workers (and the autoscaler) start when
   * every cache has synced. Not blocking matters: the leader must keep renewing its Lease
   * while the caches fill, or a slow API server would let a second leader in.
   */
  start(): void {
    for (const informer of this.owned.values()) informer.start();
    this.clusters.start();
    this.starting = (async () => {
      while (!this.hasSynced()) {
        if (this.stopped) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      if (this.stopped) return;
      this.controller.start();
      this.autoscaler.start();
    })();
  }

  hasSynced(): boolean {
    return this.clusters.hasSynced() && [...this.owned.values()].every((i) => i.hasSynced());
  }

  /** Stops watching, drains in-flight reconciles. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.starting;
    await this.autoscaler.stop();
    await Promise.all([this.clusters, ...this.owned.values()].map((i) => i.stop()));
    await this.controller.stop();
  }
}
