/**
 * Leader election over a coordination.k8s.io/v1 Lease, after client-go's
 * `leaderelection`: a candidate takes the Lease when it is free or its holder has not
 * renewed it for `leaseDuration` (measured on this replica's own clock from when it
 * last saw the record change, so clock skew between replicas does not matter); the
 * leader renews every `retryPeriod` and gives up leading if it cannot renew within
 * `renewDeadline`. On shutdown the leader releases the Lease so a standby takes over
 * at once instead of waiting out the lease.
 *
 * Why our own: @kubernetes/client-node (1.4.0) has no leader election, and the one npm
 * package for it (@codedependant/kubernetes-leader-election, 1.0.1, about 1,500 downloads
 * a month) is too little used to trust with the one property that matters here, never two
 * leaders. This is client-go's algorithm, with its timings, tested against a real Lease.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../logger.js';
import { describeError, isConflict } from '../kube/errors.js';

/** The three calls the elector needs; `kubeLeaseClient` implements them over the API. */
export interface LeaseClient {
  get(): Promise<V1Lease | undefined>;
  create(lease: V1Lease): Promise<void>;
  replace(lease: V1Lease): Promise<void>;
}

export interface LeaderElectorOptions {
  client: LeaseClient;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  logger: Logger;
  now?: () => number;
}

export interface LeaderCallbacks {
  /** This replica became leader: start the controllers. */
  onStartedLeading(): Promise<void> | void;
  /** Leadership ended (lost or released): stop the controllers before returning. */
  onStoppedLeading(): Promise<void> | void;
}

/**
 * What identifies one renewal: holder and renew time at full precision (a `Date` printed
 * with `String()` would only change once a second and make a live lease look stale).
 */
function recordOf(lease: V1Lease): string {
  const t: unknown = lease.spec?.renewTime;
  const stamp = t instanceof Date ? t.toISOString() : String(t ?? '');
  return `${lease.spec?.holderIdentity ?? ''}|${stamp}`;
}

export class LeaderElector {
  private leading = false;
  private observedRecord = '';
  private observedAt = 0;
  private lease: V1Lease | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: LeaderElectorOptions) {
    this.now = opts.now ?? Date.now;
  }

  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Campaigns, leads, and campaigns again after losing the Lease, until `signal`
   * aborts; then releases the Lease if it holds it.
   */
  async run(signal: AbortSignal, callbacks: LeaderCallbacks): Promise<void> {
    const log = this.opts.logger;
    while (!signal.aborted) {
      if (!(await this.acquire(signal))) break;
      this.leading = true;
      log.info({ identity: this.opts.identity }, 'became leader');
      await callbacks.onStartedLeading();
      await this.renewUntilLost(signal);
      this.leading = false;
      await callbacks.onStoppedLeading();
      if (signal.aborted) {
        await this.release();
        break;
      }
      log.warn({ identity: this.opts.identity }, 'lost the leader lease; campaigning again');
    }
  }

  private async wait(ms: number, signal: AbortSignal): Promise<void> {
    await sleep(ms, undefined, { signal }).catch(() => undefined);
  }

  private async acquire(signal: AbortSignal): Promise<boolean> {
    while (!signal.aborted) {
      if ((await this.tryAcquireOrRenew()) === 'held') return true;
      await this.wait(this.opts.retryPeriodMs, signal);
    }
    return false;
  }

  private async renewUntilLost(signal: AbortSignal): Promise<void> {
    let lastRenew = this.now();
    while (!signal.aborted) {
      await this.wait(this.opts.retryPeriodMs, signal);
      if (signal.aborted) return;
      const result = await this.tryAcquireOrRenew();
      if (result === 'held') lastRenew = this.now();
      else if (result === 'other') return;
      else if (this.now() - lastRenew > this.opts.renewDeadlineMs) return;
    }
  }

  /** One attempt: `held` (we hold it now), `other` (someone else does), `error`. */
  async tryAcquireOrRenew(): Promise<'held' | 'other' | 'error'> {
    const { client, identity, logger } = this.opts;
    const now = this.now();
    const durationSeconds = Math.max(1, Math.ceil(this.opts.leaseDurationMs / 1000));
    try {
      const lease = await client.get();
      if (!lease) {
        const fresh: V1Lease = {
          metadata: {},
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: durationSeconds,
            acquireTime: new V1MicroTime(now),
            renewTime: new V1MicroTime(now),
            leaseTransitions: 0,
          },
        };
        await client.create(fresh);
        this.observe(fresh, now);
        return 'held';
      }
      const spec = lease.spec ?? {};
      const record = recordOf(lease);
      if (record !== this.observedRecord) {
        this.observedRecord = record;
        this.observedAt = now;
      }
      const holder = spec.holderIdentity ?? '';
      const heldMs = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
      if (holder !== '' && holder !== identity && this.observedAt + heldMs > now) return 'other';
      const mine = holder === identity;
      const next: V1Lease = {
        ...lease,
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: mine && spec.acquireTime ? spec.acquireTime : new V1MicroTime(now),
          renewTime: new V1MicroTime(now),
          leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
        },
      };
      await client.replace(next);
      this.observe(next, now);
      return 'held';
    } catch (err) {
      // 409: another candidate wrote first; we learn who on the next attempt.
      if (!isConflict(err)) logger.warn({ err: describeError(err) }, 'lease update failed');
      return 'error';
    }
  }

  private observe(lease: V1Lease, now: number): void {
    this.lease = lease;
    this.observedRecord = recordOf(lease);
    this.observedAt = now;
  }

  /** Gives the Lease up (empty holder, 1 s duration) so a standby takes it at once. */
  private async release(): Promise<void> {
    try {
      const lease = await this.opts.client.get();
      if (!lease || lease.spec?.holderIdentity !== this.opts.identity) return;
      await this.opts.client.replace({
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: '',
          leaseDurationSeconds: 1,
          renewTime: new V1MicroTime(this.now()),
        },
      });
      this.opts.logger.info({ identity: this.opts.identity }, 'released the leader lease');
    } catch (err) {
      this.opts.logger.warn({ err: describeError(err) }, 'could not release the lease');
    }
  }
}
