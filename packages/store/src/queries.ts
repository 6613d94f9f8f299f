/**
 * The queries both services run on the shared collections, or that read one service's
 * documents from the other: each filter and sort written once. Written for FerretDB 1.x
 * as much as for MongoDB: no transactions, no aggregation, single-document atomic
 * operations, and lookups by exactly `{_id}` or `{_id: {$in}}` (the latter with the test
 * environment's FerretDB patch) where FerretDB's SQLite backend would otherwise scan the
 * whole collection.
 */
import { MongoBulkWriteError, MongoServerError, type Collection, type WriteError } from 'mongodb';
import { contactDocId, sendPermissionFromDocs, type SendDecision } from '@gossip/protocol';
import type { SharedCollections } from './collections.js';
import type { AccountRef, EventDoc, MessageDoc, ReceiptDoc } from './documents.js';

/** Where the previous page of contact events ended. */
export interface EventCursor {
  at: Date;
  id: string;
}

/** Where the previous page of messages ended. */
export interface MessageCursor {
  seq: number;
  id: string;
}

/** A page of `user`'s contact events in (at, _id) order, after `after`. */
export function eventsPage(
  c: SharedCollections,
  user: string,
  after: EventCursor | undefined,
  limit: number,
): Promise<EventDoc[]> {
  const filter = after
    ? {
        to: user,
        $or: [{ at: { $gt: after.at } }, { at: after.at, _id: { $gt: after.id } }],
      }
    : { to: user };
  return c.events.find(filter).sort({ at: 1, _id: 1 }).limit(limit).toArray();
}

/**
 * A page of `user`'s messages in (seq, _id) order, after `after`; from the first one
 * stamped at or after `since` (ms) when given, else from the first.
 */
export function messagesPage(
  c: SharedCollections,
  user: string,
  after: MessageCursor | undefined,
  limit: number,
  since?: number,
): Promise<MessageDoc[]> {
  const filter = after
    ? {
        to: user,
        $or: [{ seq: { $gt: after.seq } }, { seq: after.seq, _id: { $gt: after.id } }],
      }
    : since === undefined
      ? { to: user }
      : { to: user, seq: { $gte: since } };
  return c.messages.find(filter).sort({ seq: 1, _id: 1 }).limit(limit).toArray();
}

/** A page of the receipts waiting for `user` in `_id` order, after `after`. */
export function receiptsPage(
  c: SharedCollections,
  user: string,
  after: string | undefined,
  limit: number,
): Promise<ReceiptDoc[]> {
  const filter = after === undefined ? { to: user } : { to: user, _id: { $gt: after } };
  return c.receipts.find(filter).sort({ _id: 1 }).limit(limit).toArray();
}

/**
 * Who may message whom, from the api's contact documents: both sides read with one
 * `find({_id: {$in: [both ids]}})`, then a `findOne` of the recipient's account only when
 * the answer is `not_contact` (`unknown` when it has no account). One round trip, not two.
 * MongoDB answers `{_id: {$in}}` from the `_id` index, and so does the test environment's
 * FerretDB with its patch (packages/testenv/ferretdb/patches.json; docs/benchmarks.md,
 * "Batched deletes"); an unpatched FerretDB 1.x scans the collection for it, as it does for
 * the acks' `{_id: {$in}}` deletes.
 */
export async function sendDecision(
  c: { contacts: Pick<SharedCollections['contacts'], 'find'> } & {
    users: Pick<Collection<AccountRef>, 'findOne'>;
  },
  from: string,
  to: string,
): Promise<SendDecision | 'unknown'> {
  const ids = [contactDocId(from, to), contactDocId(to, from)];
  const views = await c.contacts
    .find({ _id: { $in: ids } }, { projection: { state: 1, blocked: 1 } })
    .toArray();
  const decision = sendPermissionFromDocs(from, to, views);
  if (decision !== 'not_contact') return decision;
  // The api keys accounts by username (`users._id`).
  const user = await c.users.findOne({ _id: to }, { projection: { _id: 1 } });
  return user ? 'not_contact' : 'unknown';
}

/**
 * Deletes every contact event, message and receipt `user` sent or is to get (account
 * deletion). Their contacts and account document are the caller's.
 */
export async function deletePendingOf(
  c: Pick<SharedCollections, 'events' | 'messages' | 'receipts'>,
  user: string,
): Promise<void> {
  const either = { $or: [{ to: user }, { from: user }] };
  await c.events.deleteMany(either);
  await c.messages.deleteMany(either);
  await c.receipts.deleteMany(either);
}

/** The server's code for a duplicate key (the id is already stored). */
export const DUPLICATE_KEY_CODE = 11000;

/** Whether `err` is a duplicate-key error (the id is already stored). */
export function isDuplicateKey(err: unknown): boolean {
  return err instanceof MongoServerError && err.code === DUPLICATE_KEY_CODE;
}

/**
 * The per-document errors of a bulk write the server refused in part (an `insertMany`
 * with `ordered: false`: the other documents were written), or undefined when `err` is
 * not such an error.
 */
export function bulkWriteErrors(err: unknown): WriteError[] | undefined {
  if (!(err instanceof MongoBulkWriteError)) return undefined;
  return ([] as WriteError[]).concat(err.writeErrors);
}
