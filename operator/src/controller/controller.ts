/**
 * Workers that take keys from the work queue and reconcile them. A failure re-queues
 * the key with per-key exponential backoff; a success (or a permanent outcome such as an
 * invalid spec) forgets its backoff. The queue guarantees one key is never reconciled by
 * two workers at once.
 */
import type { Logger } from '../logger.js';
import type { OperatorMetrics } from '../metrics.js';
import { describeError } from '../kube/errors.js';
import type { WorkQueue } from '../workqueue/index.js';

export interface ControllerOptions {
  name: string;
  queue: WorkQueue;
  reconcile(key: string): Promise<unknown>;
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
    const { queue, metrics, name: controller, logger } = this.opts;
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      const end = metrics.reconcileTime.startTimer({ controller });
      try {
        await this.opts.reconcile(key);
        queue.forget(key);
        metrics.reconcileTotal.inc({ controller, result: 'success' });
      } catch (err) {
        metrics.reconcileTotal.inc({ controller, result: 'error' });
        metrics.reconcileErrors.inc({ controller });
        logger.warn(
          { key, err: describeError(err), retries: queue.numRequeues(key) },
          'reconcile failed; retrying with backoff',
        );
        queue.addRateLimited(key);
      } finally {
        end();
        queue.done(key);
      }
    }
  }
}
