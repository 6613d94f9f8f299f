/**
 * `delivered` receipts for the senders of acked messages: pushed to the gateways holding
 * the sender now, else stored for its next connect. One presence read per sender and one
 * publish per gateway for a whole batch of acks, when that gateway takes `pushes`.
 */
import type { Redis } from 'ioredis';
import {
  MAX_BUS_PUSHES,
  presenceClaims,
  presenceKey,
  type BusPushItem,
  type PresenceClaim,
} from '@gossip/protocol';
import { bulkWriteErrors, DUPLICATE_KEY_CODE, type SharedCollections } from '@gossip/store';
import type { Logger } from '@gossip/servicekit';
import type { EngineMetrics } from './metrics.js';
import type { Outbound } from './outbound.js';

/** One deleted message whose sender `from` is told that `to` got it. */
export interface Receipt {
  id: string;
  from: string;
  to: string;
}

export interface ReceiptsDeps {
  c: SharedCollections;
  out: Outbound;
  redis: Redis;
  redisPrefix: string;
  metrics: EngineMetrics;
  log: Logger;
}

export class Receipts {
  constructor(private readonly d: ReceiptsDeps) {}

  /**
   * The live presence claims of `user`, none when Redis does not answer (the receipts are
   * stored then). The same read as `Outbound.presence`, with each claim's `pushes` mark.
   */
  private async claims(user: string, now: number): Promise<PresenceClaim[]> {
    try {
      const fields = await this.d.redis.hgetall(this.d.redisPrefix + presenceKey(user));
      return presenceClaims(fields, now);
    } catch (err) {
      this.d.log.warn({ err }, 'presence lookup failed');
      return [];
    }
  }

  /**
   * Sends the receipts of `list` (acked at `at`): one presence read per sender; to each
   * gateway holding senders, one `pushes` per {@link MAX_BUS_PUSHES} receipts when its claim
   * says it takes them, else one `push` per receipt (a gateway older than `pushes` would
   * drop it); the receipts of offline senders stored with one insert.
   */
  async send(list: readonly Receipt[], at: number): Promise<void> {
    const bySender = new Map<string, Receipt[]>();
    for (const r of list) {
      const l = bySender.get(r.from);
      if (l) l.push(r);
      else bySender.set(r.from, [r]);
    }
    const lists = new Map<string, BusPushItem[]>();
    const singles: { gw: string; item: BusPushItem }[] = [];
    const offline: Receipt[] = [];
    await Promise.all(
      [...bySender].map(async ([sender, rs]) => {
        const claims = await this.claims(sender, at);
        if (claims.length === 0) {
          offline.push(...rs);
          return;
        }
        for (const { gw, pushes } of claims) {
          const items = rs.map((r): BusPushItem => ({
            to: sender,
            frame: { type: 'delivered', id: r.id, to: r.to, at },
          }));
          if (!pushes) {
            for (const item of items) singles.push({ gw, item });
            continue;
          }
          const l = lists.get(gw);
          if (l) l.push(...items);
          else lists.set(gw, items);
        }
      }),
    );
    const { out } = this.d;
    const sent: Promise<void>[] = [];
    for (const [gw, items] of lists) {
      for (let i = 0; i < items.length; i += MAX_BUS_PUSHES) {
        sent.push(out.toGateway(gw, { op: 'pushes', pushes: items.slice(i, i + MAX_BUS_PUSHES) }));
      }
    }
    for (const { gw, item } of singles) sent.push(out.toGateway(gw, { op: 'push', ...item }));
    if (offline.length > 0) sent.push(this.store(offline, at));
    await Promise.all(sent);
  }

  /**
   * Stores receipts for their senders' next connect, one insert for them all; one stored
   * before (by another engine, or a redelivered ack) is left as it is.
   */
  private async store(list: readonly Receipt[], at: number): Promise<void> {
    const { c, metrics } = this.d;
    const docs = list.map((r) => ({ _id: r.id, to: r.from, from: r.to, at: new Date(at) }));
    try {
      await c.receipts.insertMany(docs, { ordered: false });
      metrics.receiptsStored.inc(docs.length);
    } catch (err) {
      const errs = bulkWriteErrors(err);
      if (!errs) throw err;
      const other = errs.find((e) => e.code !== DUPLICATE_KEY_CODE);
      if (other)
        throw new Error(`storing receipts failed: ${other.errmsg ?? `code ${other.code}`}`);
      metrics.receiptsStored.inc(docs.length - errs.length);
    }
  }
}
