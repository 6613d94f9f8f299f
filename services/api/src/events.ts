/**
 * Contact notifications. Each event is stored in the `events` collection (the durable
 * copy, deleted by the engine when the recipient acks it) and published on the Redis
 * channel `<prefix>events` as `{ to, frame }` so a gateway holding the recipient's
 * connection can push it at once. A failed publish is logged, not fatal: the engine
 * also replays pending events when a user connects (services/engine/src/replay.ts).
 */
import { randomUUID } from 'node:crypto';
import {
  EVENTS_CHANNEL,
  contactFrameOf,
  type ContactEventMessage,
  type ContactEventName,
  type EventDoc,
} from '@gossip/protocol';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Collections } from './store.js';

export interface EventExtra {
  keyVersion?: number;
  body?: string;
}

export class EventSink {
  constructor(
    private readonly events: Collections['events'],
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Stores and announces one event for `to` about `from`. */
  async emit(
    to: string,
    from: string,
    event: ContactEventName,
    extra: EventExtra = {},
  ): Promise<void> {
    const doc: EventDoc = { _id: randomUUID(), to, from, event, at: new Date(this.now()) };
    if (extra.keyVersion !== undefined) doc.keyVersion = extra.keyVersion;
    if (extra.body !== undefined) doc.body = extra.body;
    await this.events.insertOne(doc);
    const message: ContactEventMessage = { to, frame: contactFrameOf(doc) };
    try {
      await this.redis.publish(`${this.prefix}${EVENTS_CHANNEL}`, JSON.stringify(message));
    } catch (err) {
      this.log.warn({ err, event, eventId: doc._id }, 'could not publish contact event');
    }
  }
}
