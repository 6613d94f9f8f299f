/**
 * Send-to-shown through the real SDK: what a user of `@gossip/client` waits from
 * `Messenger.send()` on one side to the `onMessage` handler on the other, on a real api,
 * engine and gateway. Two cases: one message at a time with both users online, and a
 * 1,000-message offline backlog (the recipient connects after every message was
 * accepted; timed from its `start()` to the first and the last message shown). Counted
 * with the SDK's own defaults, so the figures include whatever the SDK waits for order.
 */
import { randomBytes } from 'node:crypto';
import { ApiClient, GossipClient, MemoryKeyStore, Messenger } from '@gossip/client';
import { nodeWebSocketFactory } from '@gossip/client/node';
import { ServiceStack } from '@gossip/testenv';
import { percentiles, round, table, type Percentiles } from '../report.js';
import type { Scenario } from '../scenario.js';
import { QUIET_ENGINE, QUIET_GATEWAY } from './throughput.js';

interface ShownResult {
  single: { messages: number; sendToShownMs: Percentiles };
  backlog: Array<{
    messages: number;
    firstShownMs: number;
    lastShownMs: number;
    inOrder: boolean;
  }>;
}

async function user(apiUrl: string, prefix: string): Promise<GossipClient> {
  const gossip = new GossipClient({
    api: new ApiClient({ baseUrl: apiUrl }),
    keyStore: new MemoryKeyStore(),
  });
  await gossip.register({
    username: `${prefix}_${randomBytes(4).toString('hex')}`,
    password: `pw-${randomBytes(8).toString('hex')}`,
  });
  return gossip;
}

function messenger(gossip: GossipClient, wsUrl: string): Messenger {
  return new Messenger({
    gossip,
    url: wsUrl,
    webSocket: nodeWebSocketFactory(),
    // The bench gateway lifts its per-connection rate limit; at the SDK's default 40
    // frames/s writing the backlog alone would take 25 s.
    ratePerSecond: 400,
    rateBurst: 400,
  });
}

/** Resolves when `check()` holds, polling every 5 ms. */
async function until(check: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const shown: Scenario = {
  name: 'shown',
  title: 'Send-to-shown through the SDK (one message; a 1,000-message offline backlog)',
  async run(ctx) {
    const singles = ctx.quick ? 10 : 50;
    const backlogSize = ctx.quick ? 100 : 1000;
    const rounds = ctx.quick ? 1 : 3;
    const stack = new ServiceStack('bench-shown', ctx.servers);
    const result: ShownResult = {
      single: { messages: singles, sendToShownMs: percentiles([]) },
      backlog: [],
    };
    try {
      const api = await stack.startApi({ API_LOG_LEVEL: 'warn' });
      await stack.startEngine(QUIET_ENGINE);
      const gw = await stack.startGateway(QUIET_GATEWAY);
      const alice = await user(api.url, 'alice');
      const bob = await user(api.url, 'bob');
      await alice.api.requestContact(bob.username);
      await bob.acceptContact(alice.username);

      const sender = messenger(alice, gw.wsUrl);
      await sender.start();
      await sender.waitUntilOpen();

      // One message at a time, both online.
      const shownAt = new Map<string, number>();
      let receiver = messenger(bob, gw.wsUrl);
      receiver.onMessage((m) => void shownAt.set(m.text, Date.now()));
      await receiver.start();
      await receiver.waitUntilOpen();
      // The first message carries the conversation key: not counted.
      await sender.send(bob.username, 'warm-up');
      await until(() => shownAt.has('warm-up'), 'the warm-up message', 30_000);
      const took: number[] = [];
      for (let i = 0; i < singles; i++) {
        const text = `single-${i}`;
        const t0 = Date.now();
        await sender.send(bob.username, text);
        await until(() => shownAt.has(text), text, 30_000);
        took.push((shownAt.get(text) as number) - t0);
      }
      result.single.sendToShownMs = percentiles(took);
      ctx.say(`  single: ${JSON.stringify(result.single.sendToShownMs)}`);
      await receiver.stop();

      // The offline backlog: bob is away while alice's messages are accepted.
      for (let r = 0; r < rounds; r++) {
        const ids: string[] = [];
        for (let i = 0; i < backlogSize; i++) {
          ids.push((await sender.send(bob.username, `r${r}-${i}`)).id);
        }
        await Promise.all(ids.map((id) => sender.whenState(id, 'accepted', 120_000)));
        const order: string[] = [];
        receiver = messenger(bob, gw.wsUrl);
        let first = 0;
        let last = 0;
        receiver.onMessage((m) => {
          if (!m.text.startsWith(`r${r}-`)) return;
          const now = Date.now();
          if (order.length === 0) first = now;
          order.push(m.text);
          last = now;
        });
        const t0 = Date.now();
        await receiver.start();
        await until(() => order.length >= backlogSize, `backlog round ${r}`, 180_000);
        await receiver.stop();
        const run = {
          messages: backlogSize,
          firstShownMs: first - t0,
          lastShownMs: last - t0,
          inOrder: order.every((t, i) => t === `r${r}-${i}`),
        };
        ctx.say(`  backlog round ${r}: ${JSON.stringify(run)}`);
        result.backlog.push(run);
      }
      await sender.stop();
    } finally {
      await stack.close();
    }
    const p = result.single.sendToShownMs;
    const markdown = [
      table(
        ['case', 'p50 / p90 / p99 / max ms'],
        [[`one message (${singles} in turn)`, `${p.p50} / ${p.p90} / ${p.p99} / ${p.max}`]],
      ),
      '',
      table(
        [
          'backlog round',
          'messages',
          'connect→first shown ms',
          'connect→last shown ms',
          'in order',
        ],
        result.backlog.map((b, i) => [
          i + 1,
          b.messages,
          b.firstShownMs,
          b.lastShownMs,
          b.inOrder ? 'yes' : 'NO',
        ]),
      ),
      '',
      `One api, engine and gateway; SDK Messengers with their default order settings ` +
        `(rate raised to 400 frames/s); mean last-shown ${round(
          result.backlog.reduce((s, b) => s + b.lastShownMs, 0) /
            Math.max(1, result.backlog.length),
        )} ms.`,
    ].join('\n');
    return { data: result, markdown };
  },
};
