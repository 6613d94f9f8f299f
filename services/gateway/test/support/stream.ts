/**
 * A steady stream of messages from one reliable client to another with a fault injected
 * half way, and the accounting the fault tests assert on: every accepted message shown to
 * the recipient exactly once, nothing left in MongoDB once acked.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { eventually, type Stack } from './stack.js';
import { ReliableClient } from './wsclient.js';

export interface StreamResult {
  sent: number;
  accepted: number;
  shown: number;
  wireDeliveries: number;
}

export interface StreamOptions {
  stack: Stack;
  /** The sender, one of the stack's users. @default 'alice' */
  from?: string;
  /** The recipient. @default 'bob' */
  to?: string;
  senderUrls: () => string[];
  /** Where the recipient connects. @default senderUrls */
  recipientUrls?: () => string[];
  count: number;
  /** Pause between sends (ms). */
  intervalMs: number;
  /** Runs once half the messages are sent. */
  fault: (ctx: { sender: ReliableClient; recipient: ReliableClient }) => Promise<void>;
  /** How long everything may take to settle after the last send (ms). @default 60000 */
  settleMs?: number;
}

export async function streamWithFault(o: StreamOptions): Promise<StreamResult> {
  const from = o.from ?? 'alice';
  const to = o.to ?? 'bob';
  const sender = new ReliableClient({ urls: o.senderUrls, token: () => o.stack.token(from) });
  const recipient = new ReliableClient({
    urls: o.recipientUrls ?? o.senderUrls,
    token: () => o.stack.token(to),
  });
  await Promise.all([sender.start(), recipient.start()]);
  const ids: string[] = [];
  let faulted: Promise<void> | undefined;
  try {
    for (let i = 0; i < o.count; i++) {
      ids.push(sender.sendMessage(to, randomBytes(32).toString('base64')));
      if (i === Math.floor(o.count / 2)) faulted = o.fault({ sender, recipient });
      await new Promise((r) => setTimeout(r, o.intervalMs));
    }
    await faulted;
    const settle = o.settleMs ?? 60_000;
    await eventually(() => sender.outbox.size === 0, 'every send to be accepted', settle);
    await eventually(
      () => ids.every((id) => recipient.seen.has(id)),
      `every accepted message to reach ${to}`,
      settle,
    );
    // Exactly once to the app, and nothing else.
    assert.equal(recipient.shown.length, recipient.seen.size);
    assert.deepEqual(new Set(recipient.shown.map((d) => d.id)), new Set(ids));
    assert.deepEqual(sender.accepted, new Set(ids));
    await eventually(
      async () =>
        (await o.stack.db
          .collection('messages')
          .countDocuments({ _id: { $in: ids as never[] } })) === 0,
      'every acked message to be deleted',
      settle,
    );
    return {
      sent: ids.length,
      accepted: sender.accepted.size,
      shown: recipient.shown.length,
      wireDeliveries: recipient.wireDeliveries,
    };
  } finally {
    await Promise.allSettled([sender.stop(), recipient.stop()]);
  }
}
