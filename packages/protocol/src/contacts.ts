/**
 * Who may message whom, and how the api stores contacts so the gateway and engine can
 * apply the same rule. Storage contract (MongoDB database shared by the services):
 *
 * - collection `contacts`, one document per side of a pair, `_id` = `owner:peer`
 *   (see {@link contactDocId}); `owner` sees `peer` in `state`, and `blocked` says
 *   whether `owner` blocked `peer`.
 * - To decide a send from `from` to `to`, read both sides in one query:
 *   `db.collection('contacts').find({ _id: { $in: [contactDocId(from, to), contactDocId(to, from)] } })`
 *   and pass them to {@link sendPermission}.
 */
import type { ContactState } from './rest.js';

/** The collection holding contact documents. */
export const CONTACTS_COLLECTION = 'contacts';

/** One side of a contact relation, as stored by the api. */
export interface ContactDoc {
  /** `${owner}:${peer}` (usernames cannot contain `:`). */
  _id: string;
  owner: string;
  peer: string;
  state: ContactState;
  /** `owner` blocked `peer`. */
  blocked: boolean;
  /** When the current state began. */
  since: Date;
}

/** `_id` of the document in which `owner` sees `peer`. */
export function contactDocId(owner: string, peer: string): string {
  return `${owner}:${peer}`;
}

export type SendDecision = 'ok' | 'not_contact' | 'blocked';

/**
 * Whether `from` may send a message (or a signal) to `to`, given both sides' documents
 * (or their absence). Blocks win over everything, in either direction; otherwise both
 * sides must be `accepted`. The decision values are error codes of the catalog: a sender
 * `to` blocked is told `not_contact`, as a stranger is, so a block is never revealed;
 * `blocked` is only for a sender who blocked `to` themselves.
 *
 * @param senderView the document `contactDocId(from, to)`, if any
 * @param recipientView the document `contactDocId(to, from)`, if any
 */
export function sendPermission(
  senderView: Pick<ContactDoc, 'state' | 'blocked'> | null | undefined,
  recipientView: Pick<ContactDoc, 'state' | 'blocked'> | null | undefined,
): SendDecision {
  if (senderView?.blocked) return 'blocked';
  if (recipientView?.blocked) return 'not_contact';
  if (senderView?.state === 'accepted' && recipientView?.state === 'accepted') return 'ok';
  return 'not_contact';
}

/** Convenience: picks both views out of the documents a `$in` query returned. */
export function sendPermissionFromDocs(
  from: string,
  to: string,
  docs: ReadonlyArray<Pick<ContactDoc, '_id' | 'state' | 'blocked'>>,
): SendDecision {
  const sender = docs.find((d) => d._id === contactDocId(from, to));
  const recipient = docs.find((d) => d._id === contactDocId(to, from));
  return sendPermission(sender, recipient);
}
