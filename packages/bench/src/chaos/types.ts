/** The chaos suite's vocabulary: the faults, the options of a run and what it reports. */
import type { BackingVersions } from '@gossip/testenv';

/**
 * What is killed in turn. `redis` loses its data (no persistence: every presence claim
 * goes, as after a flush); `redis-kept` saves a snapshot just before the kill and restarts
 * from it, as a Redis with persistence does (claims survive, possibly stale).
 */
export const FAULTS = [
  'engine',
  'gateway',
  'api',
  'rabbitmq',
  'redis',
  'redis-kept',
  'store',
] as const;
export type Fault = (typeof FAULTS)[number];

export interface ChaosOptions {
  /** Where the private servers keep data and logs. */
  dir: string;
  /** Sender/recipient pairs (two accounts and two clients each). */
  pairs: number;
  /** Messages per second offered in total, open loop (created on schedule, outage or not). */
  rate: number;
  /** How many times the whole list of faults is gone through. */
  rounds: number;
  faults?: readonly Fault[];
  /** Load before the first fault (ms). */
  warmMs: number;
  /** How long a killed server, or the api, stays down before its restart (ms). */
  downMs: number;
  /** After a restart: wait at least this long (ms)... */
  settleMinMs: number;
  /** ...and at most this long for everything created before the restart to be shown. */
  settleMaxMs: number;
  /** After the load stops: how long to wait for everything to be accepted, shown, acked. */
  finalSettleMs: number;
  /** ENGINE_REDELIVERY_SECONDS for the engines (redelivery of unacked deliveries). */
  redeliverySeconds: number;
  /** How many handled ids each SDK client remembers to drop duplicates (its `seenLimit`). */
  seenLimit?: number;
  /** Services' log level (their logs are under dir/scratch/delivery/). */
  logLevel?: string;
  say: (line: string) => void;
}

export interface Counts {
  /** Messages the app asked to send (unique ids). */
  sent: number;
  /** Of those, the ones the server answered `accepted` for. */
  accepted: number;
  /** Shown to the app (first arrival through the client's dedupe). */
  shown: number;
  /** `deliver` frames beyond the first per id (the wire may carry duplicates). */
  dupWire: number;
  /** Deliveries the SDK dropped as duplicates (its `onDuplicate` hook). */
  dupDropped: number;
  /** Ids the app handler saw more than once (must be 0). */
  dupShown: number;
  /** Accepted and never shown once everything settled (must be 0). */
  lost: number;
  /** Sent and never accepted once everything settled (the client was still resending). */
  unaccepted: number;
  /** Sends the server refused for good (an error code that is not retryable). */
  refused: number;
}

export interface PhaseResult extends Counts {
  fault: Fault | 'warm-up';
  round: number;
  /** Kill to the component being back (restart returned, ready). */
  outageMs: number | null;
  /** Restart to the first `accepted` of a message created after the restart. */
  recoveryMs: number | null;
  /** Longest time without any `accepted` frame between the kill and the phase's end. */
  stallMs: number | null;
  /** Whether everything created before the restart was shown within settleMaxMs. */
  settled: boolean;
  /** Client (re)connections, token fetches that failed and were retried, fresh logins. */
  reconnects: number;
  tokenRetries: number;
  relogins: number;
  /** Error frames the clients got during the phase, by code. */
  errors: Record<string, number>;
  /** What a password login to the api answered while the component was down (HTTP status). */
  loginWhileDown: number | 'no answer' | null;
}

export interface ChaosResult {
  config: Omit<ChaosOptions, 'say' | 'dir'>;
  phases: PhaseResult[];
  total: Counts;
  /** Documents in the messages collection once everything was shown and acked. */
  leftInStore: number;
  /** Whether the final settle finished (all accepted, shown, store empty) in time. */
  settled: boolean;
  /** Deliveries of an id after its sender got the `delivered` receipt (informational). */
  deliveredAfterReceipt: number;
  durationMs: number;
  /** What the private servers report themselves to be. */
  servers: BackingVersions;
}
