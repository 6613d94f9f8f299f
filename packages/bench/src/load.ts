/**
 * The load generator of the throughput and latency scenarios: raw protocol clients (no
 * SDK, no encryption: that cost is measured on its own) in sender/recipient pairs, one
 * clock for every timestamp.
 *
 * Two ways to offer load:
 * - closed loop (`window`): each sender keeps at most `window` messages unaccepted, which
 *   finds the most the system sustains;
 * - open loop (`rate`): messages are due on a fixed schedule whatever the system does,
 *   and latency counts from when a message was due, not when it went out, so a stalled
 *   system cannot hide its queueing (no coordinated omission).
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { MAX_ACK_IDS, newMessageId, WS_SUBPROTOCOL, type ServerFrame } from '@gossip/protocol';
import type { ServiceStack } from '@gossip/testenv';

export interface LoadOptions {
  stack: ServiceStack;
  /** Gateways' ws URLs; pair i uses gateway i mod n for both its sender and recipient. */
  gateways: string[];
  pairs: number;
  /** Messages per pair. */
  messages: number;
  bodyBytes: number;
  /** Closed loop: unaccepted messages allowed per sender. */
  window?: number;
  /** Open loop: messages per second offered in total, spread evenly over the pairs. */
  rate?: number;
  /** Give up waiting after this long (ms). @default 300000 */
  timeoutMs?: number;
  /**
   * Recipients ack as the SDK does: ids collected for this long go in one `ack` (at most
   * MAX_ACK_IDS). 0 acks every delivery on its own. @default $BENCH_ACK_DELAY_MS or 15 (the
   * SDK's default)
   */
  ackDelayMs?: number;
}

export interface LoadRun {
  sent: number;
  accepted: number;
  delivered: number;
  /** Deliveries on the wire beyond the first of each id. */
  duplicates: number;
  errors: Record<string, number>;
  /** First due/send to last accepted, and to last delivered (s). */
  acceptSeconds: number;
  deliverSeconds: number;
  /** Per message, ms: due (open loop) or sent (closed loop) to accepted / delivered. */
  toAccepted: number[];
  toDeliver: number[];
  t0: number;
}

/** Users `p<i>s` / `p<i>r` made contacts, as the api stores them. */
export async function makePairs(stack: ServiceStack, pairs: number): Promise<[string, string][]> {
  const users = Array.from({ length: pairs }, (_, i) => [`p${i}s`, `p${i}r`] as [string, string]);
  await stack.createUsers(...users.flat());
  for (const [s, r] of users) await stack.makeContacts(s, r);
  return users;
}

async function open(url: string, token: string, onFrame: (f: ServerFrame) => void) {
  const ws = new WebSocket(url, [WS_SUBPROTOCOL], {
    headers: { authorization: `Bearer ${token}` },
    perMessageDeflate: false,
  });
  ws.on('message', (d) => onFrame(JSON.parse(String(d)) as ServerFrame));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return ws;
}

export async function runLoad(
  o: LoadOptions,
  users: readonly (readonly [string, string])[],
): Promise<LoadRun> {
  if ((o.window === undefined) === (o.rate === undefined)) {
    throw new Error('runLoad needs exactly one of window (closed loop) or rate (open loop)');
  }
  const total = o.pairs * o.messages;
  const due = new Map<string, number>();
  const acceptedAt = new Map<string, number>();
  const deliveredAt = new Map<string, number>();
  const errors: Record<string, number> = {};
  let duplicates = 0;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((r) => (finish = r));
  const check = (): void => {
    if (acceptedAt.size === total && deliveredAt.size === total) finish();
  };
  const body = (): string => randomBytes(o.bodyBytes).toString('base64');
  const gw = (i: number): string => o.gateways[i % o.gateways.length]!;

  const sockets: WebSocket[] = [];
  const ackFlushes: (() => void)[] = [];
  const ackDelay = o.ackDelayMs ?? Number(process.env.BENCH_ACK_DELAY_MS ?? 15);
  for (const [i, [, r]] of users.entries()) {
    let pending: string[] = [];
    let timer: NodeJS.Timeout | undefined;
    const flush = (): void => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      while (pending.length > 0) {
        ws.send(JSON.stringify({ type: 'ack', ids: pending.slice(0, MAX_ACK_IDS) }));
        pending = pending.slice(MAX_ACK_IDS);
      }
    };
    const ws: WebSocket = await open(gw(i), await o.stack.token(r), (f) => {
      if (f.type !== 'deliver') return;
      if (deliveredAt.has(f.id)) duplicates++;
      else deliveredAt.set(f.id, performance.now());
      pending.push(f.id);
      if (ackDelay === 0 || pending.length >= MAX_ACK_IDS) flush();
      else timer ??= setTimeout(flush, ackDelay);
      check();
    });
    sockets.push(ws);
    ackFlushes.push(flush);
  }

  type Sender = { ws: WebSocket; to: string; next: number; inflight: number };
  const senders: Sender[] = [];
  const send = (s: Sender, at: number): void => {
    s.next++;
    s.inflight++;
    const id = newMessageId();
    due.set(id, at);
    s.ws.send(JSON.stringify({ type: 'send', id, to: s.to, kind: 'message', body: body() }));
  };
  const pump = (s: Sender): void => {
    while (o.window !== undefined && s.inflight < o.window && s.next < o.messages) {
      send(s, performance.now());
    }
  };
  for (const [i, [sName, r]] of users.entries()) {
    const s: Sender = { ws: undefined as unknown as WebSocket, to: r, next: 0, inflight: 0 };
    s.ws = await open(gw(i), await o.stack.token(sName), (f) => {
      if (f.type === 'accepted') {
        if (acceptedAt.has(f.id)) return;
        acceptedAt.set(f.id, performance.now());
        s.inflight--;
        pump(s);
        check();
      } else if (f.type === 'error') {
        errors[f.code] = (errors[f.code] ?? 0) + 1;
      }
    });
    senders.push(s);
    sockets.push(s.ws);
  }

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
  await finished;
  clearTimeout(timeout);
  if (ticker) clearInterval(ticker);
  // Acks still waiting for their batch go out before the sockets close.
  for (const flush of ackFlushes) flush();
  for (const ws of sockets) ws.close();

  const ids = [...due.keys()];
  const last = (m: Map<string, number>): number => {
    let max = t0;
    for (const v of m.values()) if (v > max) max = v;
    return max;
  };
  return {
    sent: due.size,
    accepted: acceptedAt.size,
    delivered: deliveredAt.size,
    duplicates,
    errors,
    acceptSeconds: (last(acceptedAt) - t0) / 1000,
    deliverSeconds: (last(deliveredAt) - t0) / 1000,
    toAccepted: ids
      .filter((id) => acceptedAt.has(id))
      .map((id) => acceptedAt.get(id)! - due.get(id)!),
    toDeliver: ids
      .filter((id) => deliveredAt.has(id))
      .map((id) => deliveredAt.get(id)! - due.get(id)!),
    t0,
  };
}
