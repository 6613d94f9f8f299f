/**
 * What end-to-end encryption costs the client per message, on this machine, through the
 * same @gossip/crypto calls the SDK makes: AES-256-GCM seal and open of a message body
 * (with its AAD and base64 envelope), and the once-per-conversation key envelope
 * (RSA-OAEP-3072 wrap plus Ed25519 signature, and its open).
 */
import {
  encryptMessage,
  decryptMessage,
  generateConversationKey,
  generateIdentityKeys,
  openKeyEnvelope,
  sealKeyEnvelope,
} from '@gossip/crypto';
import { table } from '../report.js';
import type { Scenario } from '../scenario.js';

/** Runs `op` `n` times, one after another; microseconds per call. */
async function timeEach(n: number, op: (i: number) => Promise<unknown>): Promise<number> {
  for (let i = 0; i < Math.min(50, n); i++) await op(i); // warm up
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await op(i);
  return Math.round(((performance.now() - t0) * 1000) / n);
}

export const crypto: Scenario = {
  name: 'crypto',
  title: 'Client-side encryption cost per message',
  async run(ctx) {
    const n = ctx.quick ? 500 : 5000;
    const ck = await generateConversationKey();
    const ctxOf = (i: number) => ({ from: 'alice', to: 'bob', id: `m${i}` });
    const rows: { operation: string; bytes: number | null; microseconds: number }[] = [];
    for (const bytes of [256, 4096, 65536]) {
      const text = new Uint8Array(bytes).fill(97);
      const bodies: string[] = [];
      const seal = await timeEach(n, async (i) => {
        bodies[i] = await encryptMessage(ck, text, ctxOf(i));
      });
      const open = await timeEach(n, (i) => decryptMessage(ck, bodies[i]!, ctxOf(i)));
      rows.push({ operation: 'encrypt message (AES-256-GCM)', bytes, microseconds: seal });
      rows.push({ operation: 'decrypt message', bytes, microseconds: open });
      ctx.say(`  ${bytes} B: seal ${seal} µs, open ${open} µs`);
    }
    const [alice, bob] = [await generateIdentityKeys(), await generateIdentityKeys()];
    const envelopes: string[] = [];
    const k = ctx.quick ? 20 : 200;
    const sealEnv = await timeEach(k, async (i) => {
      envelopes[i] = await sealKeyEnvelope({
        conversationKey: ck,
        from: 'alice',
        to: 'bob',
        recipientWrappingKey: bob.wrapping.publicKey,
        senderSigningKey: alice.signing.privateKey,
      });
    });
    const openEnv = await timeEach(k, (i) =>
      openKeyEnvelope(envelopes[i]!, {
        from: 'alice',
        to: 'bob',
        senderSigningKey: alice.signing.publicKey,
        recipientUnwrappingKey: bob.wrapping.privateKey,
      }),
    );
    rows.push({
      operation: 'seal key envelope (RSA-OAEP-3072 + Ed25519), once per conversation key',
      bytes: null,
      microseconds: sealEnv,
    });
    rows.push({ operation: 'open key envelope', bytes: null, microseconds: openEnv });
    const markdown = [
      table(
        ['operation', 'plaintext bytes', 'µs per call', 'calls/s on one core'],
        rows.map((r) => [
          r.operation,
          r.bytes ?? '',
          r.microseconds,
          Math.round(1e6 / r.microseconds),
        ]),
      ),
      '',
      `WebCrypto in Node ${process.version}, one call at a time on one core; ${n} calls per message size.`,
    ].join('\n');
    return { data: { calls: n, rows }, markdown };
  },
};
