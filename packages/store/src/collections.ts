/** Typed handles on the shared collections, under the names of @gossip/protocol. */
import type { Collection, Db } from 'mongodb';
import { COLLECTIONS } from '@gossip/protocol';
import type { AttachmentDoc } from './attachments.js';
import type { AccountRef, ContactDoc, EventDoc, MessageDoc, ReceiptDoc } from './documents.js';

export interface SharedCollections {
  messages: Collection<MessageDoc>;
  receipts: Collection<ReceiptDoc>;
  events: Collection<EventDoc>;
  contacts: Collection<ContactDoc>;
  /** Attachment metadata: the api writes it, the engine deletes it after acks or expiry. */
  attachments: Collection<AttachmentDoc>;
  /** Read by `_id` only (does the account exist); the api types its own handle. */
  users: Collection<AccountRef>;
}

export function sharedCollections(db: Db): SharedCollections {
  return {
    messages: db.collection<MessageDoc>(COLLECTIONS.messages),
    receipts: db.collection<ReceiptDoc>(COLLECTIONS.receipts),
    events: db.collection<EventDoc>(COLLECTIONS.events),
    contacts: db.collection<ContactDoc>(COLLECTIONS.contacts),
    attachments: db.collection<AttachmentDoc>(COLLECTIONS.attachments),
    users: db.collection<AccountRef>(COLLECTIONS.users),
  };
}
