/**
 * Who sent recently stored or pushed messages to whom, so the ack of a message this
 * engine handled needs no read before its delete. `from` and `to` never change once
 * stored; a miss just reads the document.
 */
import { LRUCache } from '@gossip/limits';
import type { MessageDoc } from '@gossip/store';

/** Messages remembered for acks without a read (about 100 bytes each). */
const RECENT_MAX = 50_000;

export type RecentMessage = Pick<MessageDoc, 'from' | 'to' | 'sentAt' | 'attachments'>;

/** A bounded map of message id to sender, recipient and stamp; the least recently used go first. */
export class RecentMessages {
  private readonly byId: LRUCache<string, RecentMessage>;

  constructor(max = RECENT_MAX) {
    this.byId = new LRUCache({ max });
  }

  remember(d: Pick<MessageDoc, '_id' | 'from' | 'to' | 'sentAt' | 'attachments'>): void {
    const m: RecentMessage = { from: d.from, to: d.to, sentAt: d.sentAt };
    if (d.attachments) m.attachments = d.attachments;
    this.byId.set(d._id, m);
  }

  get(id: string): RecentMessage | undefined {
    return this.byId.get(id);
  }

  forget(id: string): void {
    this.byId.delete(id);
  }
}
