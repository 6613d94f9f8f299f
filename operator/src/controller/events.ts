/**
 * Kubernetes Events (core/v1) about a GossipCluster, so `kubectl describe` shows what
 * the operator did. Recording never fails a reconcile: errors are logged and dropped.
 * The same event for the same object is not repeated within `dedupeMs`.
 */
import { LRUCache } from '@gossip/limits';
import type { CoreV1Api, CoreV1Event } from '@kubernetes/client-node';
import type { Logger } from '../logger.js';
import { describeError } from '../kube/errors.js';

export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  uid?: string;
}

export type EventType = 'Normal' | 'Warning';

export class EventRecorder {
  /** Events recorded within `dedupeMs` (at most 10,000, the least recently used go first). */
  private readonly recent: LRUCache<string, true> | undefined;

  constructor(
    private readonly core: CoreV1Api,
    private readonly logger: Logger,
    private readonly instance: string,
    dedupeMs = 60_000,
  ) {
    this.recent = dedupeMs > 0 ? new LRUCache({ max: 10_000, ttl: dedupeMs }) : undefined;
  }

  record(on: InvolvedObject, type: EventType, reason: string, message: string): void {
    const key = `${on.uid ?? on.name}|${type}|${reason}|${message}`;
    if (this.recent?.has(key)) return;
    this.recent?.set(key, true);
    const now = Date.now();
    const time = new Date(now);
    const body: CoreV1Event = {
      metadata: { generateName: `${on.name}.`, namespace: on.namespace },
      involvedObject: { ...on },
      type,
      reason,
      message: message.slice(0, 1024),
      source: { component: 'gossip-operator' },
      reportingComponent: 'gossip.dev/operator',
      reportingInstance: this.instance,
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
    };
    this.core.createNamespacedEvent({ namespace: on.namespace, body }).catch((err: unknown) => {
      this.logger.warn({ err: describeError(err), reason }, 'could not record event');
    });
  }
}
