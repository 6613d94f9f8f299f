/**
 * The operator's metrics on a servicekit registry (so its process metrics are
 * `gossip_process_*` and `gossip_nodejs_*`, like every service's). The controller's names
 * follow controller-runtime's (`controller_runtime_reconcile_total`, `workqueue_depth`, ...)
 * under `gossip_operator_`. Every series starts at zero so dashboards and alerts see it
 * before the first event.
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import { singular } from '@gossip/cdk8s';
import { createMetricsRegistry } from '@gossip/servicekit';
import { RESULTS } from './controller/result.js';
import type { WorkQueueMetrics } from './workqueue/index.js';

export class OperatorMetrics {
  readonly registry = createMetricsRegistry();
  readonly reconcileTotal: Counter<'controller' | 'result'>;
  readonly reconcileErrors: Counter<'controller'>;
  readonly terminalErrors: Counter<'controller'>;
  readonly reconcileTime: Histogram<'controller'>;
  readonly leader: Gauge;
  private readonly depth: Gauge<'name'>;
  private readonly adds: Counter<'name'>;
  private readonly retries: Counter<'name'>;
  private readonly queueDuration: Histogram<'name'>;
  private readonly workDuration: Histogram<'name'>;

  /** `controllers`: the controller names (controller-runtime's: the lower-case kind). */
  constructor(controllers: readonly string[] = [singular]) {
    const registers = [this.registry];
    this.reconcileTotal = new Counter({
      name: 'gossip_operator_reconcile_total',
      help: 'Reconciliations per controller and result.',
      labelNames: ['controller', 'result'],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: 'gossip_operator_reconcile_errors_total',
      help: 'Reconciliations that ended in an error.',
      labelNames: ['controller'],
      registers,
    });
    this.terminalErrors = new Counter({
      name: 'gossip_operator_terminal_reconcile_errors_total',
      help: 'Reconciliations that ended in a terminal error (an invalid spec): not retried.',
      labelNames: ['controller'],
      registers,
    });
    this.reconcileTime = new Histogram({
      name: 'gossip_operator_reconcile_time_seconds',
      help: 'Time per reconciliation.',
      labelNames: ['controller'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.leader = new Gauge({
      name: 'gossip_operator_leader',
      help: '1 while this replica holds the leader Lease, else 0.',
      registers,
    });
    this.depth = new Gauge({
      name: 'gossip_operator_workqueue_depth',
      help: 'Keys waiting in the work queue.',
      labelNames: ['name'],
      registers,
    });
    this.adds = new Counter({
      name: 'gossip_operator_workqueue_adds_total',
      help: 'Keys added to the work queue.',
      labelNames: ['name'],
      registers,
    });
    this.retries = new Counter({
      name: 'gossip_operator_workqueue_retries_total',
      help: 'Keys re-queued with backoff after a failure.',
      labelNames: ['name'],
      registers,
    });
    const buckets = [0.001, 0.01, 0.1, 1, 10, 100, 1000];
    this.queueDuration = new Histogram({
      name: 'gossip_operator_workqueue_queue_duration_seconds',
      help: 'Time a key waits in the queue before a worker takes it.',
      labelNames: ['name'],
      buckets,
      registers,
    });
    this.workDuration = new Histogram({
      name: 'gossip_operator_workqueue_work_duration_seconds',
      help: 'Time a worker spends on a key.',
      labelNames: ['name'],
      buckets,
      registers,
    });
    this.leader.set(0);
    for (const controller of controllers) {
      for (const result of RESULTS) this.reconcileTotal.inc({ controller, result }, 0);
      this.reconcileErrors.inc({ controller }, 0);
      this.terminalErrors.inc({ controller }, 0);
      this.reconcileTime.zero({ controller });
      this.queueHooks(controller);
    }
  }

  /** Work queue callbacks that feed the `workqueue_*` series for queue `name`. */
  queueHooks(name: string): WorkQueueMetrics {
    this.depth.set({ name }, 0);
    this.adds.inc({ name }, 0);
    this.retries.inc({ name }, 0);
    this.queueDuration.zero({ name });
    this.workDuration.zero({ name });
    return {
      add: () => this.adds.inc({ name }),
      depth: (d) => this.depth.set({ name }, d),
      retry: () => this.retries.inc({ name }),
      queueDuration: (s) => this.queueDuration.observe({ name }, s),
      workDuration: (s) => this.workDuration.observe({ name }, s),
    };
  }
}
