/**
 * Workers that take keys from the work queue and reconcile them, acting on each outcome
 * the way controller-runtime's `reconcileHandler` does (the table in ./result.ts): a
 * success forgets the key's backoff, `requeueAfterMs` schedules the key again, a failure
 * re-queues it with per-key exponential backoff, a {@link TerminalError} is not retried.
 * Every outcome is counted under its `result` label, and every reconcile logs with its own
 * `reconcileId`. The queue guarantees one key is never reconciled by two workers at once.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { OperatorMetrics } from '../metrics.js';
import { describeError } from '../kube/errors.js';
import type { WorkQueue } from '../workqueue/index.js';
import { TerminalError, type ReconcileResult, type ResultLabel } from './result.js';

export interface ControllerOptions {
  name: string;
  queue: WorkQueue;
  /** Reconciles `key`; `log` carries the key and this reconcile's id. */
  reconcile(key: string, log: Logger): Promise<ReconcileResult>;
  metrics: OperatorMetrics;
  logger: Logger;
  workers: number;
}

export class Controller {
  private running: Promise<void>[] = [];

  constructor(private readonly opts: ControllerOptions) {}

  start(): void {
    for (let i = 0; i < this.opts.workers; i++) this.running.push(this.worker());
  }

  /** Shuts the queue down, lets in-flight reconciles finish, waits for the workers. */
  async stop(): Promise<void> {
    await this.opts.queue.shutDownWithDrain();
    await Promise.all(this.running);
  }

  private async worker(): Promise<void> {
    const { queue, metrics, name: controller } = this.opts;
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      const log = this.opts.logger.child({ key, reconcileId: randomUUID() });
      const end = metrics.reconcileTime.startTimer({ controller });
      let result: ResultLabel;
      try {
        result = this.act(key, await this.opts.reconcile(key, log));
      } catch (err) {
        result = 'error';
        this.failed(key, err, log);
      } finally {
        end();
        queue.done(key);
      }
      metrics.reconcileTotal.inc({ controller, result });
    }
  }

  /** The queue action for a reconcile that returned. */
  private act(key: string, r: ReconcileResult): ResultLabel {
    const { queue } = this.opts;
    if (r.requeueAfterMs !== undefined && r.requeueAfterMs > 0) {
      queue.forget(key);
      queue.addAfter(key, r.requeueAfterMs);
      return 'requeue_after';
    }
    if (r.requeue) {
      queue.addRateLimited(key);
      return 'requeue';
    }
    queue.forget(key);
    return 'success';
  }

  private failed(key: string, err: unknown, log: Logger): void {
    const { queue, metrics, name: controller } = this.opts;
    metrics.reconcileErrors.inc({ controller });
    if (err instanceof TerminalError) {
      metrics.terminalErrors.inc({ controller });
      queue.forget(key);
      log.warn({ err: err.message }, 'reconcile failed for good; not retrying until it changes');
      return;
    }
    log.warn(
      { err: describeError(err), retries: queue.numRequeues(key) },
      'reconcile failed; retrying with backoff',
    );
    queue.addRateLimited(key);
  }
}
