/**
 * The load generator of the throughput and latency scenarios, on the real SDK: each pair
 * is two `GossipClient`s registered through the api, the sender's `Messenger` sending and
 * the recipient's showing (its handler) and acking, as an app does, so encryption, the
 * outbox, the inbox's order and dedup and the batched acks are all in the figures. The
 * SDK's `MessengerHooks` say when each frame was written and accepted; one clock for
 * every timestamp. (The idle-connections scenario keeps raw sockets: it measures the
 * gateway alone.)
 *
 * Two ways to offer load:
 * - closed loop (`window`): each sender keeps at most `window` messages unaccepted, which
 *   finds the most the system sustains;
 * - open loop (`rate`): messages are due on a fixed schedule whatever the system does,
 *   and latency counts from when a message was due, not when it went out, so a stalled
 *   system cannot hide its queueing (no coordinated omission).
 */
import { randomBytes } from 'node:crypto';
import type { GossipClient, Messenger } from '@gossip/client';
import { benchMessenger, makeContacts, sdkUser, until } from './sdk-users.js';

export interface LoadOptions {
  /** Gateways' ws URLs; pair i uses gateway i mod n for both its sender and recipient. */
  gateways: string[];
  pairs: number;
  /** Messages per pair. */
  messages: number;
  /** Plaintext bytes per message, random ASCII text (the wire body is its ciphertext). */
  bodyBytes: number;
  /** Closed loop: unaccepted messages allowed per sender. */
  window?: number;
  /** Open loop: messages per second offered in total, spread evenly over the pairs. */
  rate?: number;
  /** Give up waiting after this long (ms). @default 300000 */
  timeoutMs?: number;
  /**
   * Recipients batch acks for this long (the SDK's `ackDelayMs`). @default
   * $BENCH_ACK_DELAY_MS or the SDK's default (15)
   */
  ackDelayMs?: number;
  /** Progress lines (the phases before the measured part). */
  say?: (line: string) => void;
  /**
   * Called once the set-up (connects, v2 sessions, warm-up) is done, right before the
   * first measured message: where a CPU meter of the measured part starts.
   */
  onMeasuring?: () => void;
}

export interface LoadRun {
  sent: number;
  accepted: number;
  /** Shown by the recipient's handler (once per id). */
  delivered: number;
  /** `deliver` frames on the wire beyond the first of each id. */
  duplicates: number;
  errors: Record<string, number>;
  /** First due/send to last accepted, and to last shown (s). */
  acceptSeconds: number;
  deliverSeconds: number;
  /** Per message, ms: due (open loop) or written (closed loop) to accepted / shown. */
  toAccepted: number[];
  toDeliver: number[];
  t0: number;
  /** Whether a recipient showed `id` (warm-ups included), and whether it wrote its ack. */
  shown(id: string): boolean;
  acked(id: string): boolean;
}

/** One sender and one recipient, contacts, as the api stores them. */
export type Pair = readonly [sender: GossipClient, recipient: GossipClient];

/** `pairs` sender/recipient pairs registered through the api and made contacts. */
export async function makePairs(apiUrl: string, pairs: number): Promise<Pair[]> {
  const out: Pair[] = [];
  // Eight pairs at a time: registering (keys, password hash) is slow one by one.
  for (let i = 0; i < pairs; i += 8) {
    const batch = Array.from({ length: Math.min(8, pairs - i) }, async (_, j) => {
      const s = await sdkUser(apiUrl, `p${i + j}s`);
      const r = await sdkUser(apiUrl, `p${i + j}r`);
      await makeContacts(s, r);
      return [s, r] as const;
    });
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

interface Sender {
  m: Messenger;
  to: string;
  next: number;
  inflight: number;
}

export async function runLoad(o: LoadOptions, users: readonly Pair[]): Promise<LoadRun> {
  if ((o.window === undefined) === (o.rate === undefined)) {
    throw new Error('runLoad needs exactly one of window (closed loop) or rate (open loop)');
  }
  const total = o.pairs * o.messages;
  /** Ids of the measured messages (not the warm-ups), with when each was due or written. */
  const due = new Map<string, number>();
  const acceptedAt = new Map<string, number>();
  const shownAt = new Map<string, number>();
  const onWire = new Set<string>();
  const errors: Record<string, number> = {};
  const count = (code: string): void => void (errors[code] = (errors[code] ?? 0) + 1);
  let duplicates = 0;
  let measuring = false;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((r) => (finish = r));
  const check = (): void => {
    if (acceptedAt.size === total && shownAt.size === total) finish();
  };
  const gw = (i: number): string => o.gateways[i % o.gateways.length]!;
  const ackDelayMs =
    o.ackDelayMs ??
    (process.env.BENCH_ACK_DELAY_MS ? Number(process.env.BENCH_ACK_DELAY_MS) : undefined);
  // Text: the SDK opens a message as UTF-8, and random bytes are not (a send of them
  // reaches the recipient as undecryptable).
  const body = (): string => randomBytes(o.bodyBytes).toString('base64').slice(0, o.bodyBytes);
  const senders: Sender[] = [];
  const recipients: Messenger[] = [];
  let warmShown = 0;
  // Every id a recipient showed (warm-ups too) and every id it wrote an ack for.
  const shownIds = new Set<string>();
  const ackedIds = new Set<string>();

  const pump = (s: Sender): void => {
    while (o.window !== undefined && s.inflight < o.window && s.next < o.messages) send(s, 0);
  };
  const send = (s: Sender, at: number): void => {
    s.next++;
    s.inflight++;
    s.m.send(s.to, body()).then(
      ({ id }) => {
        // Open loop: from when it was due. Closed loop: from when it was written (onSent).
        if (at > 0) due.set(id, at);
      },
      () => count('send_threw'),
    );
  };

  for (const [i, [sg, rg]] of users.entries()) {
    const r = benchMessenger(rg, gw(i), {
      ...(ackDelayMs !== undefined && { ackDelayMs }),
      hooks: {
        onReceived(f) {
          if (f.type !== 'deliver' || !measuring) return;
          if (onWire.has(f.id)) duplicates++;
          else onWire.add(f.id);
        },
        onAcked(ids) {
          for (const id of ids) ackedIds.add(id);
        },
      },
    });
    r.onMessage((msg) => {
      shownIds.add(msg.id);
      if (!measuring) return void warmShown++;
      if (!shownAt.has(msg.id)) shownAt.set(msg.id, performance.now());
      check();
    });
    r.on('error', (e) => count(`recipient_${e.kind}`));
    const s: Sender = {
      m: benchMessenger(sg, gw(i), {
        // The window is ours (below); the SDK's own cap must not be the tighter one.
        maxInFlight: Math.max(64, o.window ?? 0),
        hooks: {
          onSent(frame, resend) {
            if (frame.kind !== 'message' || resend || !measuring || o.window === undefined) return;
            due.set(frame.id, performance.now());
          },
          onAccepted(id, frame) {
            if (frame.kind !== 'message' || !measuring || acceptedAt.has(id)) return;
            acceptedAt.set(id, performance.now());
            s.inflight--;
            pump(s);
            check();
          },
          onFailed(_id, _frame, code) {
            count(code);
          },
        },
      }),
      to: rg.username,
      next: 0,
      inflight: 0,
    };
    s.m.on('error', (e) => {
      if (e.kind === 'server' || e.kind === 'connection') count(`sender_${e.kind}`);
    });
    senders.push(s);
    recipients.push(r);
  }
  const say = o.say ?? (() => undefined);
  const all = [...senders.map((s) => s.m), ...recipients];
  await Promise.all(all.map((m) => m.start()));
  await Promise.all(all.map((m) => m.waitUntilOpen(60_000)));
  say(`  load: ${all.length} messengers connected`);
  // As an app would: message once the contact's accept (and the key it carries) arrived,
  // replayed from the stored contact event on connect.
  for (const [sg, rg] of users) {
    const deadline = Date.now() + 60_000;
    while (!(await sg.hasConversation(rg.username))) {
      if (Date.now() > deadline) throw new Error(`${sg.username} never got the accept's key`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  // Warm-up, not counted: each sender's first message (and the contact's key arriving).
  say('  load: every sender has its conversation key');
  await Promise.all(senders.map((s) => s.m.send(s.to, 'warm-up')));
  await until(() => warmShown >= senders.length, 'the warm-up messages', 60_000);

  say('  load: warm-up shown; measuring');
  measuring = true;
  o.onMeasuring?.();
  const t0 = performance.now();
  let ticker: NodeJS.Timeout | undefined;
  if (o.window !== undefined) {
    for (const s of senders) pump(s);
  } else {
    // Open loop: message k of the run is due at t0 + k / rate, senders taking turns. A
    // 1 ms ticker sends everything due so far, stamped with when it was due.
    const interval = 1000 / o.rate!;
    let k = 0;
    ticker = setInterval(() => {
      const now = performance.now();
      while (k < total && t0 + k * interval <= now) {
        send(senders[k % senders.length]!, t0 + k * interval);
        k++;
      }
      if (k >= total) clearInterval(ticker);
    }, 1);
  }
  const timeout = setTimeout(finish, o.timeoutMs ?? 300_000);
  const progress = setInterval(() => {
    say(
      `  load: ${due.size} sent, ${acceptedAt.size} accepted, ${shownAt.size} shown of ` +
        `${total}; errors ${JSON.stringify(errors)}`,
    );
  }, 10_000);
  await finished;
  clearTimeout(timeout);
  clearInterval(progress);
  if (ticker) clearInterval(ticker);
  // Every shown message's ack written before the sockets close, by id (a count would be
  // met early by the re-acks of duplicates). stop() sends what is still queued too.
  const unacked = (): number => {
    let n = 0;
    for (const id of shownIds) if (!ackedIds.has(id)) n++;
    return n;
  };
  await until(() => unacked() === 0, 'the acks of every shown message', 30_000).catch(() =>
    count('acks_not_written'),
  );
  const stopped = await Promise.race([
    Promise.all(all.map((m) => m.stop())).then(() => true),
    new Promise<false>((r) => setTimeout(() => r(false), 15_000)),
  ]);
  if (!stopped) count('messenger_stop_timed_out');

  const ids = [...due.keys()];
  const last = (m: Map<string, number>): number => {
    let max = t0;
    for (const v of m.values()) if (v > max) max = v;
    return max;
  };
  return {
    sent: due.size,
    accepted: acceptedAt.size,
    delivered: shownAt.size,
    duplicates,
    errors,
    acceptSeconds: (last(acceptedAt) - t0) / 1000,
    deliverSeconds: (last(shownAt) - t0) / 1000,
    toAccepted: ids
      .filter((id) => acceptedAt.has(id))
      .map((id) => acceptedAt.get(id)! - due.get(id)!),
    toDeliver: ids.filter((id) => shownAt.has(id)).map((id) => shownAt.get(id)! - due.get(id)!),
    t0,
    shown: (id) => shownIds.has(id),
    acked: (id) => ackedIds.has(id),
  };
}
