/**
 * Kubernetes Events (core/v1) about a GossipCluster, so `kubectl describe` shows what
 * the operator did. Recording never fails a reconcile: errors are logged and dropped.
 * The same event for the same object is not repeated within `dedupeMs`.
 */
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
  private readonly recent = new Map<string, number>();

  constructor(
    private readonly core: CoreV1Api,
    private readonly logger: Logger,
    private readonly instance: string,
    private readonly dedupeMs = 60_000,
  ) {}

  record(on: InvolvedObject, type: EventType, reason: string, message: string): void {
    const key = `${on.uid ?? on.name}|${type}|${reason}|${message}`;
    const now = Date.now();
    const last = this.recent.get(key);
    if (last !== undefined && now - last < this.dedupeMs) return;
    this.recent.set(key, now);
    if (this.recent.size > 10_000) this.recent.clear();
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
