/**
 * Send-to-shown through the real SDK: what a user of `@gossip/client` waits from
 * `Messenger.send()` on one side to the `onMessage` handler on the other, on a real api,
 * engine and gateway. Two cases: one message at a time with both users online, and a
 * 1,000-message offline backlog (the recipient connects after every message was
 * accepted; timed from its `start()` to the first and the last message shown). Counted
 * with the SDK's own defaults, so the figures include whatever the SDK waits for order.
 */
import { nodeWebSocketFactory } from '@gossip/client/node';
import { COLLECTIONS } from '@gossip/protocol';
import { ServiceStack } from '@gossip/testenv';
import { holdAcksUntilReplayed } from '../ack-hold.js';
import { percentiles, round, table, type Percentiles } from '../report.js';
import type { Scenario } from '../scenario.js';
import { benchMessenger as messenger, makeContacts, sdkUser as user, until } from '../sdk-users.js';
import { QUIET_ENGINE, QUIET_GATEWAY } from './throughput.js';

/** How the recipient acks during a backlog round (the A/B of docs/benchmarks.md). */
type AckMode = 'during' | 'after';

interface BacklogRound {
  /** `during`: the SDK as it is (acks go out while the replay runs); `after`: held until `replayed`. */
  acks: AckMode;
  messages: number;
  firstShownMs: number;
  lastShownMs: number;
  /** Connect to the `replayed` event: the engine's replay and the gateway's flush. */
  replayedMs: number;
  /** Connect to none of the round's messages left in the store (every ack applied). */
  deletedMs: number;
  inOrder: boolean;
}

interface ShownResult {
  single: { messages: number; sendToShownMs: Percentiles };
  backlog: BacklogRound[];
}

/** A B B A A B ...: each mode as often first as second, so a drift in the load cancels. */
const ackMode = (r: number): AckMode => (['during', 'after', 'after', 'during'] as const)[r % 4]!;

export const shown: Scenario = {
  name: 'shown',
  title: 'Send-to-shown through the SDK (one message; a 1,000-message offline backlog)',
  async run(ctx) {
    const singles = ctx.quick ? 10 : 50;
    const backlogSize = ctx.quick ? 100 : 1000;
    const rounds = ctx.quick ? 2 : 8;
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
      await makeContacts(alice, bob);

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
        const acks = ackMode(r);
        receiver = messenger(
          bob,
          gw.wsUrl,
          acks === 'after' ? { webSocket: holdAcksUntilReplayed(nodeWebSocketFactory()) } : {},
        );
        let first = 0;
        let last = 0;
        let replayedAt = 0;
        receiver.on('replayed', () => void (replayedAt ||= Date.now()));
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
        // Polled only after the last message was shown, so it does not load the store before.
        const messages = stack.db.collection<{ _id: string }>(COLLECTIONS.messages);
        let left = 1;
        while (left > 0 && Date.now() - t0 < 300_000) {
          left = await messages.countDocuments({ _id: { $in: ids } });
          if (left > 0) await new Promise((res) => setTimeout(res, 20));
        }
        const deletedAt = Date.now();
        await receiver.stop();
        const run: BacklogRound = {
          acks,
          messages: backlogSize,
          firstShownMs: first - t0,
          lastShownMs: last - t0,
          // NaN (null in the JSON): no `replayed` came before every message was deleted.
          replayedMs: replayedAt ? replayedAt - t0 : NaN,
          deletedMs: left === 0 ? deletedAt - t0 : NaN,
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
          'acks',
          'messages',
          'connect→first shown ms',
          'connect→replayed ms',
          'connect→last shown ms',
          'connect→all deleted ms',
          'in order',
        ],
        result.backlog.map((b, i) => [
          i + 1,
          b.acks === 'during' ? 'during the replay (the SDK)' : 'held until replayed',
          b.messages,
          b.firstShownMs,
          b.replayedMs,
          b.lastShownMs,
          b.deletedMs,
          b.inOrder ? 'yes' : 'NO',
        ]),
      ),
      '',
      `One api, engine and gateway; SDK Messengers with their default order settings ` +
        `(rate raised to 400 frames/s); rounds alternate A B B A. Mean connect→last shown: ` +
        (['during', 'after'] as const)
          .map((mode) => {
            const of = result.backlog.filter((b) => b.acks === mode);
            const mean = of.reduce((sum, b) => sum + b.lastShownMs, 0) / Math.max(1, of.length);
            return `acks ${mode === 'during' ? 'during the replay' : 'held until replayed'} ${round(mean)} ms (${of.length} rounds)`;
          })
          .join(', ') +
        '.',
    ].join('\n');
    return { data: result, markdown };
  },
};
