/**
 * Where each outgoing message is (`sending` -> `accepted` -> `delivered`, or `failed`):
 * the furthest state reached per recent message id, the `status` events (never
 * backwards: a receipt may overtake the `accepted` of a resend) and the promises of
 * `whenState` waiting for one.
 */
import type { ErrorCode } from '@gossip/protocol';
import { LRUCache } from '@gossip/limits';
import type { DeliveryState, StatusEvent } from './messenger-types.js';

const RANK = { sending: 0, accepted: 1, delivered: 2, failed: 3 } as const;

interface Waiter {
  state: DeliveryState;
  resolve: () => void;
  reject: (e: Error) => void;
}

/** Delivery states of recent outgoing messages. */
export class DeliveryStates {
  /** The furthest state emitted per recent message id (rank in `RANK`). */
  private readonly reached = new LRUCache<string, number>({ max: 2000 });
  private readonly waiters = new Map<string, Waiter[]>();

  /** @param onStatus receives every state change, in order */
  constructor(private readonly onStatus: (ev: StatusEvent) => void) {}

  /**
   * Moves message `id` to `state`; returns false (and does nothing) when it is there or
   * further already.
   */
  advance(id: string, to: string, state: DeliveryState, code?: ErrorCode): boolean {
    const prev = this.reached.get(id);
    if (prev !== undefined && prev >= RANK[state]) return false;
    this.reached.set(id, RANK[state]);
    const ev: StatusEvent = { id, to, state, at: Date.now() };
    if (code) ev.code = code;
    this.onStatus(ev);
    const list = this.waiters.get(id);
    if (!list) return true;
    for (const w of [...list]) {
      if (state === 'failed') w.reject(new Error(`message ${id} failed: ${code ?? 'error'}`));
      else if (RANK[state] >= RANK[w.state]) w.resolve();
      else continue;
      list.splice(list.indexOf(w), 1);
    }
    if (list.length === 0) this.waiters.delete(id);
    return true;
  }

  /** Resolves when message `id` reaches `state`; rejects if it fails or after `timeoutMs`. */
  whenState(id: string, state: 'accepted' | 'delivered', timeoutMs: number): Promise<void> {
    const reached = this.reached.get(id);
    if (reached === RANK.failed) return Promise.reject(new Error(`message ${id} failed`));
    if (reached !== undefined && reached >= RANK[state]) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let list = this.waiters.get(id);
      if (!list) this.waiters.set(id, (list = []));
      const w: Waiter = {
        state,
        resolve: () => {
          clearTimeout(t);
          resolve();
        },
        reject: (e: Error) => {
          clearTimeout(t);
          reject(e);
        },
      };
      const t = setTimeout(() => {
        const l = this.waiters.get(id);
        if (l) l.splice(l.indexOf(w), 1);
        reject(new Error(`message ${id} was not ${state} within ${timeoutMs} ms`));
      }, timeoutMs);
      list.push(w);
    });
  }

  /** Rejects every pending `whenState` (the messenger stopped). */
  rejectAll(): void {
    for (const [id, ws] of this.waiters) {
      for (const w of ws) w.reject(new Error(`messenger stopped before ${id} was ${w.state}`));
    }
    this.waiters.clear();
  }
}
