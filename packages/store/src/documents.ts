/**
 * The documents of the collections the api and the engine share. The engine stores and
 * deletes messages and receipts, the api deletes a user's when the account goes; the api
 * writes contacts and contact events (their types live in @gossip/protocol, beside the
 * frames made from them), the engine reads them and deletes acked events.
 */
import type { MessageKind } from '@gossip/protocol';

export type { ContactDoc, EventDoc } from '@gossip/protocol';

/** A stored message, from acceptance until its recipient acks it (or it expires). */
export interface MessageDoc {
  /** The client-chosen message id: the unique key that makes resends idempotent. */
  _id: string;
  from: string;
  to: string;
  kind: MessageKind;
  /** Opaque ciphertext; never logged, never read. */
  body: string;
  /**
   * Attachment ids the send carried (checked by the engine when it stored the message):
   * the recipient's ack of this message counts as having fetched them.
   */
  attachments?: string[];
  /** When the gateway received it; `deliver.sentAt`. */
  sentAt: Date;
  /** Orders one recipient's messages: the gateway's per-connection strictly increasing stamp. */
  seq: number;
  /** Deliveries attempted so far. */
  attempts: number;
  /** Last time it was routed to a gateway, if ever. */
  deliveredAt: Date | null;
  /**
   * When the redelivery scan should look at it again; null while its recipient is offline
   * (it is replayed when the recipient connects).
   */
  dueAt: Date | null;
}

/** A `delivered` receipt kept for a sender that was offline when its message was acked. */
export interface ReceiptDoc {
  /** The message id. */
  _id: string;
  /** The original sender, who gets the receipt. */
  to: string;
  /** The recipient who acked. */
  from: string;
  at: Date;
}

/**
 * What the engine may know of an account (the api's `users` document, keyed by username):
 * that it exists. The rest of the document is the api's alone.
 */
export interface AccountRef {
  _id: string;
}
