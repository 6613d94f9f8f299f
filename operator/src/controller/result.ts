/**
 * What one reconcile tells the controller, after controller-runtime's `reconcile.Result`
 * and `reconcile.TerminalError`: every outcome maps to exactly one work-queue action and
 * one `result` label of `gossip_operator_reconcile_total`.
 *
 * | outcome                      | queue action                     | result label    |
 * | ---------------------------- | -------------------------------- | --------------- |
 * | `{}`                         | forget the key's backoff         | `success`       |
 * | `{ requeueAfterMs: n }`      | forget, then add after `n` ms    | `requeue_after` |
 * | `{ requeue: true }`          | add with the rate limiter        | `requeue`       |
 * | throws {@link TerminalError} | forget; not retried              | `error`         |
 * | throws anything else         | add with the rate limiter        | `error`         |
 */

/** The result of a reconcile that did not fail. */
export interface ReconcileResult {
  /** Reconcile the key again after this many milliseconds (0 or absent: not on a timer). */
  readonly requeueAfterMs?: number;
  /** Reconcile the key again after the rate limiter's backoff, without counting an error. */
  readonly requeue?: boolean;
}

/** Nothing to do until something changes: the informers wake the key again. */
export const DONE: ReconcileResult = Object.freeze({});

/**
 * A failure that retrying cannot fix (an invalid spec): counted as an error, never
 * re-queued. The key is reconciled again only when a watch event or the resync brings it.
 */
export class TerminalError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

/** The `result` labels of `gossip_operator_reconcile_total`, as controller-runtime names them. */
export const RESULTS = ['success', 'error', 'requeue', 'requeue_after'] as const;
export type ResultLabel = (typeof RESULTS)[number];
