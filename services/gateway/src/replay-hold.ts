/**
 * The live frames one connection gets while the engine replays its backlog, held back
 * until the replay is over (`replayed`) and then released merged in (`sentAt`, `id`) order
 * without the ones the replay already sent, as Centrifuge's recovery merge does: a client
 * never sees a live message before the older backlog, and needs no timers to sort them.
 *
 * Pure bookkeeping with a bound: the caller releases and stops holding when {@link add}
 * says the hold is full (order then degrades, nothing is lost).
 */
import type { BusPush } from '@gossip/protocol';

/** A frame the engines or the api push to a user (`replayed` is the gateway's own). */
export type PushFrame = Exclude<BusPush['frame'], { type: 'replayed' }>;

/** A held frame and how it is to be written when released. */
export interface HeldFrame {
  frame: PushFrame;
  /** A first, live delivery (for the latency metric). */
  live: boolean;
  /** May be skipped for backpressure (it is stored, and replayed later). */
  droppable: boolean;
}

interface Entry extends HeldFrame {
  at: number;
  id: string;
  seq: number;
}

/** The identity a replayed and a live copy of one frame share; signals have none. */
function keyOf(frame: PushFrame): string | undefined {
  return frame.type === 'signal' ? undefined : `${frame.type}:${frame.id}`;
}

export class ReplayHold {
  private readonly held = new Map<string, Entry>();
  private readonly unkeyed: Entry[] = [];
  /** Keys of the frames the replay sent (capped: past the cap a live copy may come twice). */
  private readonly replayed = new Set<string>();
  private seq = 0;

  /**
   * @param max Most frames held, and most replayed keys remembered.
   * @param now The clock a signal's (timeless) position is taken from.
   */
  constructor(
    private readonly max: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Frames held now. */
  get size(): number {
    return this.held.size + this.unkeyed.length;
  }

  /** A replay frame was written to the socket: a live copy of it is not sent again. */
  sentByReplay(frame: PushFrame): void {
    const key = keyOf(frame);
    if (key === undefined) return;
    // Held already (the live copy came first): the replay wrote it in its place.
    if (this.held.delete(key)) return;
    if (this.replayed.size < this.max) this.replayed.add(key);
  }

  /**
   * Holds a live frame. False, holding nothing, when the hold is full: the caller releases
   * what is held and writes this frame and the following ones straight away.
   */
  add(held: HeldFrame): boolean {
    const { frame } = held;
    const key = keyOf(frame);
    if (key !== undefined && (this.replayed.has(key) || this.held.has(key))) return true;
    if (this.size >= this.max) return false;
    const at =
      frame.type === 'deliver' ? frame.sentAt : frame.type === 'signal' ? this.now() : frame.at;
    const id = frame.type === 'signal' ? '' : frame.id;
    const entry: Entry = { ...held, at, id, seq: this.seq++ };
    if (key === undefined) this.unkeyed.push(entry);
    else this.held.set(key, entry);
    return true;
  }

  /**
   * Everything held, in (`sentAt`, `id`) order (`at` for receipts and contact events, the
   * arrival time for signals; arrival order breaks ties), and empties the hold.
   */
  release(): HeldFrame[] {
    const entries = [...this.held.values(), ...this.unkeyed];
    this.held.clear();
    this.unkeyed.length = 0;
    this.replayed.clear();
    entries.sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : a.seq - b.seq));
    return entries.map(({ frame, live, droppable }) => ({ frame, live, droppable }));
  }
}
