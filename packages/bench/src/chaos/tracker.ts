/**
 * The chaos suite's bookkeeping: every message from creation to `accepted` to shown, per
 * phase (the warm-up, then one per fault), and the counts and stalls computed from it.
 * Fed by the SDK's counting hooks and the application's handler (see chaos/client.ts);
 * ids it was never told were created (the SDK's key frames) are ignored.
 */
import type { Counts, PhaseResult } from './types.js';

export interface Msg {
  phase: number;
  createdAt: number;
  acceptedAt?: number;
  shownAt?: number;
  wire: number;
  /** Deliveries the SDK dropped as duplicates. */
  dropped: number;
  shownCount: number;
  refused?: string;
  receiptAt?: number;
}

/** The application asked the SDK to send a message; its id comes once the SDK queued it. */
export interface Ask {
  key: number;
  at: number;
  phase: number;
}

/** A phase while it runs: the fields it reports as they are (see PhaseResult), and its times. */
export interface PhaseState extends Pick<
  PhaseResult,
  | 'fault'
  | 'round'
  | 'settled'
  | 'reconnects'
  | 'tokenRetries'
  | 'relogins'
  | 'errors'
  | 'loginWhileDown'
> {
  index: number;
  startAt: number;
  killAt?: number;
  restartedAt?: number;
  recoveredAt?: number;
  endAt?: number;
}

export class Tracker {
  readonly msgs = new Map<string, Msg>();
  readonly phases: PhaseState[] = [];
  readonly acceptTimes: number[] = [];
  deliveredAfterReceipt = 0;
  /** Asks whose id the SDK has not given yet (it encrypts first, one send at a time). */
  private readonly asking = new Map<number, Ask>();
  private asks = 0;

  get phase(): PhaseState {
    return this.phases[this.phases.length - 1]!;
  }

  begin(fault: PhaseState['fault'], round: number): PhaseState {
    const now = Date.now();
    if (this.phases.length > 0) this.phase.endAt = now;
    const p: PhaseState = {
      index: this.phases.length,
      fault,
      round,
      startAt: now,
      settled: false,
      reconnects: 0,
      tokenRetries: 0,
      relogins: 0,
      errors: {},
      loginWhileDown: null,
    };
    this.phases.push(p);
    return p;
  }

  /** The application asks to send a message now (see {@link created}). */
  ask(): Ask {
    const a: Ask = { key: ++this.asks, at: Date.now(), phase: this.phases.length - 1 };
    this.asking.set(a.key, a);
    return a;
  }

  /** The SDK queued the message of `ask` as `id`: it counts as created when asked. */
  created(id: string, ask: Ask): void {
    this.asking.delete(ask.key);
    this.msgs.set(id, { phase: ask.phase, createdAt: ask.at, wire: 0, dropped: 0, shownCount: 0 });
  }

  /** The SDK could not even queue the message of `ask`: it counts as refused (`why`). */
  unqueued(ask: Ask, why: string): void {
    const id = `unqueued-${ask.key}`;
    this.created(id, ask);
    this.refused(id, why);
  }

  accepted(id: string): void {
    const m = this.msgs.get(id);
    if (!m || m.acceptedAt !== undefined) return;
    const now = Date.now();
    m.acceptedAt = now;
    this.acceptTimes.push(now);
    const p = this.phase;
    if (
      p.restartedAt !== undefined &&
      p.recoveredAt === undefined &&
      m.createdAt >= p.restartedAt
    ) {
      p.recoveredAt = now;
    }
  }

  /** A `deliver` frame for `id` reached the SDK (duplicates included). */
  wire(id: string): void {
    const m = this.msgs.get(id);
    if (!m) return;
    m.wire++;
    if (m.receiptAt !== undefined) this.deliveredAfterReceipt++;
  }

  /** The SDK dropped a delivery of `id` as a duplicate. */
  duplicate(id: string): void {
    const m = this.msgs.get(id);
    if (m) m.dropped++;
  }

  /** The application's handler: the only place "shown" is counted. */
  show(id: string): void {
    const m = this.msgs.get(id);
    if (!m) return;
    m.shownCount++;
    if (m.shownAt === undefined) m.shownAt = Date.now();
  }

  receipt(id: string): void {
    const m = this.msgs.get(id);
    if (m && m.receiptAt === undefined) m.receiptAt = Date.now();
  }

  refused(id: string, code: string): void {
    const m = this.msgs.get(id);
    if (m) m.refused = code;
  }

  error(code: string): void {
    const e = this.phase.errors;
    e[code] = (e[code] ?? 0) + 1;
  }

  /** Whether every message created before `t` has been queued, accepted and shown. */
  doneBefore(t: number): boolean {
    for (const a of this.asking.values()) if (a.at < t) return false;
    for (const m of this.msgs.values()) {
      if (m.createdAt >= t) continue;
      if (m.refused === undefined && (m.acceptedAt === undefined || m.shownAt === undefined)) {
        return false;
      }
    }
    return true;
  }

  counts(filter: (m: Msg) => boolean): Counts {
    const c: Counts = {
      sent: 0,
      accepted: 0,
      shown: 0,
      dupWire: 0,
      dupDropped: 0,
      dupShown: 0,
      lost: 0,
      unaccepted: 0,
      refused: 0,
    };
    for (const m of this.msgs.values()) {
      if (!filter(m)) continue;
      c.sent++;
      if (m.acceptedAt !== undefined) c.accepted++;
      if (m.shownCount > 0) c.shown++;
      c.dupWire += Math.max(0, m.wire - 1);
      c.dupDropped += m.dropped;
      c.dupShown += Math.max(0, m.shownCount - 1);
      if (m.acceptedAt !== undefined && m.shownCount === 0) c.lost++;
      if (m.refused !== undefined) c.refused++;
      else if (m.acceptedAt === undefined) c.unaccepted++;
    }
    return c;
  }

  /** Longest gap between `accepted` frames within [from, to]. */
  stall(from: number, to: number): number {
    let prev = from;
    let worst = 0;
    for (const t of this.acceptTimes) {
      if (t < from) continue;
      if (t > to) break;
      worst = Math.max(worst, t - prev);
      prev = t;
    }
    return Math.max(worst, to - prev);
  }
}
