/**
 * What end-to-end encryption v2 (issue 16) costs the client beside v1, through
 * @gossip/crypto: v2's `benchV2` (session setup = X3DH on both sides with the RSA-OAEP
 * share and the first message; then encryption and decryption in one sending chain, so
 * no DH ratchet step is in those two) and v1's equivalents in the same run: a
 * conversation's setup (a fresh AES key, its RSA-OAEP-3072 + Ed25519 key envelope sealed
 * and opened, and the first message) and the AES-256-GCM seal and open of a message.
 * The two alternate in rounds so a change in the machine's load hits both; the figure
 * reported is the median round's.
 */
import {
  benchV2,
  decryptMessage,
  encryptMessage,
  generateConversationKey,
  generateIdentityKeys,
  openKeyEnvelope,
  sealKeyEnvelope,
  type ConversationKey,
} from '@gossip/crypto';
import { loadavg } from 'node:os';
import { table } from '../report.js';
import type { Scenario } from '../scenario.js';

/** Mean milliseconds per operation of one round, the fields benchV2 reports. */
interface Round {
  setupMs: number;
  encryptMs: number;
  decryptMs: number;
}

const FIELDS = ['setupMs', 'encryptMs', 'decryptMs'] as const;

/** v1 timed the way benchV2 times v2: `sessions` setups, then `messages` seals and opens. */
async function benchV1(sessions: number, messages: number, bytes: number): Promise<Round> {
  const [alice, bob] = [await generateIdentityKeys(), await generateIdentityKeys()];
  const plaintext = new Uint8Array(bytes).fill(0x61);
  const ctxOf = (id: string) => ({ from: 'alice', to: 'bob', id });
  const t0 = performance.now();
  let key: ConversationKey | undefined;
  for (let i = 0; i < sessions; i++) {
    const ck = await generateConversationKey();
    const envelope = await sealKeyEnvelope({
      conversationKey: ck,
      from: 'alice',
      to: 'bob',
      recipientWrappingKey: bob.wrapping.publicKey,
      senderSigningKey: alice.signing.privateKey,
    });
    const opened = await openKeyEnvelope(envelope, {
      from: 'alice',
      to: 'bob',
      senderSigningKey: alice.signing.publicKey,
      recipientUnwrappingKey: bob.wrapping.privateKey,
    });
    key = opened.conversationKey;
    const first = await encryptMessage(ck, plaintext, ctxOf(`s${i}`));
    await decryptMessage(key, first, ctxOf(`s${i}`));
  }
  const t1 = performance.now();
  if (!key) throw new Error('benchV1 needs at least one session');
  const bodies: string[] = [];
  for (let i = 0; i < messages; i++) {
    bodies.push(await encryptMessage(key, plaintext, ctxOf(`m${i}`)));
  }
  const t2 = performance.now();
  for (let i = 0; i < messages; i++) await decryptMessage(key, bodies[i]!, ctxOf(`m${i}`));
  const t3 = performance.now();
  return {
    setupMs: (t1 - t0) / sessions,
    encryptMs: (t2 - t1) / messages,
    decryptMs: (t3 - t2) / messages,
  };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const ms = (x: number): number => Math.round(x * 1000) / 1000;

export const cryptoV2: Scenario = {
  name: 'crypto-v2',
  title: 'Encryption v2 cost beside v1 (client side, per operation)',
  async run(ctx) {
    const rounds = ctx.quick ? 1 : 5;
    const sessions = ctx.quick ? 3 : 20;
    const messages = ctx.quick ? 100 : 1000;
    const load = { start: loadavg().map((x) => Math.round(x * 10) / 10), end: [] as number[] };
    // Warm up both (JIT, WebCrypto), not reported.
    await benchV1(2, 50, 100);
    await benchV2({ sessions: 2, messages: 50, bytes: 100 });
    const cases: {
      bytes: number;
      v1: Round[];
      v2: Round[];
    }[] = [];
    for (const bytes of [100, 4096]) {
      const c = { bytes, v1: [] as Round[], v2: [] as Round[] };
      for (let r = 0; r < rounds; r++) {
        c.v1.push(await benchV1(sessions, messages, bytes));
        const v2 = await benchV2({ sessions, messages, bytes });
        c.v2.push({ setupMs: v2.setupMs, encryptMs: v2.encryptMs, decryptMs: v2.decryptMs });
        ctx.say(
          `  ${bytes} B round ${r + 1}/${rounds}: ` +
            FIELDS.map((f) => `${f} v1 ${ms(c.v1[r]![f])} v2 ${ms(c.v2[r]![f])}`).join(', '),
        );
      }
      cases.push(c);
    }
    load.end = loadavg().map((x) => Math.round(x * 10) / 10);
    const label = {
      setupMs:
        'session setup (v1: key envelope + first message; v2: X3DH + RSA share + first message)',
      encryptMs: 'encrypt one message',
      decryptMs: 'decrypt one message',
    } as const;
    const rows = cases.flatMap((c) =>
      FIELDS.map((f) => {
        const v1 = median(c.v1.map((r) => r[f]));
        const v2 = median(c.v2.map((r) => r[f]));
        return {
          operation: label[f],
          bytes: c.bytes,
          v1Ms: ms(v1),
          v2Ms: ms(v2),
          ratio: Math.round((v2 / v1) * 10) / 10,
          v1RangeMs: [
            ms(Math.min(...c.v1.map((r) => r[f]))),
            ms(Math.max(...c.v1.map((r) => r[f]))),
          ],
          v2RangeMs: [
            ms(Math.min(...c.v2.map((r) => r[f]))),
            ms(Math.max(...c.v2.map((r) => r[f]))),
          ],
        };
      }),
    );
    const markdown = [
      table(
        ['operation', 'plaintext bytes', 'v1 ms', 'v2 ms', 'v2 / v1', 'v1 range', 'v2 range'],
        rows.map((r) => [
          r.operation,
          r.bytes,
          r.v1Ms,
          r.v2Ms,
          r.ratio,
          r.v1RangeMs.join('–'),
          r.v2RangeMs.join('–'),
        ]),
      ),
      '',
      `WebCrypto in Node ${process.version}, one call at a time; median of ${rounds} alternating ` +
        `rounds of ${sessions} setups and ${messages} messages each (range: fastest and slowest ` +
        `round). v2's encryptions run in one sending chain (no DH ratchet step). Load average ` +
        `${load.start.join(' / ')} at the start, ${load.end.join(' / ')} at the end.`,
    ].join('\n');
    return { data: { rounds, sessions, messages, load, rows, cases }, markdown };
  },
};
