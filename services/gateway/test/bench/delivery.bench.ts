/**
 * Delivery benchmark (not a test: it reports figures and never fails on them). Runs a real
 * engine and gateway against the test environment, connects PAIRS sender/recipient pairs,
 * and has every sender push MESSAGES opaque bodies with at most WINDOW unaccepted at once;
 * recipients ack as deliveries arrive.
 *
 *   node --import tsx services/gateway/test/bench/delivery.bench.ts
 *   PAIRS=20 MESSAGES=200 WINDOW=32 BODY_BYTES=256 ENGINES=1 node --import tsx ...
 *
 * Reports messages/s (accepted and delivered) and latency percentiles measured on the
 * client side with one clock: send -> accepted, send -> deliver, and accepted -> deliver
 * (the sender's `accepted` and the recipient's `deliver` race, so the latter can be <= 0).
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { newMessageId, WS_SUBPROTOCOL, type ServerFrame } from '@gossip/protocol';
import { Stack } from '../support/stack.js';

const num = (name: string, def: number): number => Number(process.env[name] ?? def);
const PAIRS = num('PAIRS', 20);
const MESSAGES = num('MESSAGES', 200);
const WINDOW = num('WINDOW', 32);
const BODY_BYTES = num('BODY_BYTES', 256);
const ENGINES = num('ENGINES', 1);

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summary(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    n: s.length,
    p50: r(pct(s, 50)),
    p90: r(pct(s, 90)),
    p99: r(pct(s, 99)),
    max: r(s[s.length - 1] ?? NaN),
  };
}

async function open(url: string, token: string, onFrame: (f: ServerFrame) => void) {
  const ws = new WebSocket(url, [WS_SUBPROTOCOL], {
    headers: { authorization: `Bearer ${token}` },
  });
  ws.on('message', (d) => onFrame(JSON.parse(String(d)) as ServerFrame));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return ws;
}

async function main(): Promise<void> {
  const stack = new Stack('bench');
  try {
    const users = Array.from({ length: PAIRS }, (_, i) => [`snd${i}`, `rcv${i}`] as const);
    await stack.createUsers(...users.flat());
    for (const [s, r] of users) await stack.makeContacts(s, r);
    const quiet = { ENGINE_LOG_LEVEL: 'warn' };
    for (let i = 0; i < ENGINES; i++) await stack.startEngine(quiet, `engine-${i}`);
    const gw = await stack.startGateway({
      GATEWAY_LOG_LEVEL: 'warn',
      GATEWAY_RATE_PER_SECOND: '100000',
      GATEWAY_RATE_BURST: '100000',
    });

    const sentAt = new Map<string, number>();
    const acceptedAt = new Map<string, number>();
    const deliveredAt = new Map<string, number>();
    const total = PAIRS * MESSAGES;
    let done: () => void = () => undefined;
    const finished = new Promise<void>((r) => (done = r));
    const check = () => {
      if (acceptedAt.size === total && deliveredAt.size === total) done();
    };

    const recipients = await Promise.all(
      users.map(async ([, r]) => {
        const ws: WebSocket = await open(gw.wsUrl, await stack.token(r), (f) => {
          if (f.type !== 'deliver') return;
          if (!deliveredAt.has(f.id)) deliveredAt.set(f.id, performance.now());
          ws.send(JSON.stringify({ type: 'ack', ids: [f.id] }));
          check();
        });
        return ws;
      }),
    );

    const t0 = performance.now();
    const senders = await Promise.all(
      users.map(async ([s, r]) => {
        let next = 0;
        let inflight = 0;
        const pump = (ws: WebSocket) => {
          while (inflight < WINDOW && next < MESSAGES) {
            next++;
            inflight++;
            const id = newMessageId();
            sentAt.set(id, performance.now());
            ws.send(
              JSON.stringify({
                type: 'send',
                id,
                to: r,
                kind: 'message',
                body: randomBytes(BODY_BYTES).toString('base64'),
              }),
            );
          }
        };
        const ws: WebSocket = await open(gw.wsUrl, await stack.token(s), (f) => {
          if (f.type === 'accepted' && !acceptedAt.has(f.id)) {
            acceptedAt.set(f.id, performance.now());
            inflight--;
            pump(ws);
            check();
          } else if (f.type === 'error') {
            console.error('error frame', f.code, f.message);
          }
        });
        pump(ws);
        return ws;
      }),
    );

    const timeout = setTimeout(() => done(), 300_000);
    await finished;
    clearTimeout(timeout);
    const elapsed = (performance.now() - t0) / 1000;
    const lastAccept = Math.max(...acceptedAt.values());
    const ids = [...sentAt.keys()];
    const result = {
      config: { PAIRS, MESSAGES, WINDOW, BODY_BYTES, ENGINES, gateways: 1 },
      messages: total,
      accepted: acceptedAt.size,
      delivered: deliveredAt.size,
      seconds: Math.round(elapsed * 100) / 100,
      acceptedPerSecond: Math.round(acceptedAt.size / ((lastAccept - t0) / 1000)),
      deliveredPerSecond: Math.round(deliveredAt.size / elapsed),
      latencyMs: {
        sendToAccepted: summary(
          ids.filter((id) => acceptedAt.has(id)).map((id) => acceptedAt.get(id)! - sentAt.get(id)!),
        ),
        sendToDeliver: summary(
          ids
            .filter((id) => deliveredAt.has(id))
            .map((id) => deliveredAt.get(id)! - sentAt.get(id)!),
        ),
        acceptedToDeliver: summary(
          ids
            .filter((id) => deliveredAt.has(id) && acceptedAt.has(id))
            .map((id) => deliveredAt.get(id)! - acceptedAt.get(id)!),
        ),
      },
    };
    console.log(JSON.stringify(result, null, 2));
    for (const ws of [...senders, ...recipients]) ws.close();
  } finally {
    await stack.close();
  }
}

await main();
