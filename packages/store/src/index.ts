/**
 * @gossip/store: the MongoDB collections the api and the engine share (messages,
 * receipts, contact events, contacts, attachments and their GridFS bucket, the existence of accounts): their documents, every
 * index on them, and the queries both sides run, so neither service writes the other's
 * shape by hand. The collection names stay in @gossip/protocol (storage.ts).
 */
export type { AccountRef, ContactDoc, EventDoc, MessageDoc, ReceiptDoc } from './documents.js';
export {
  AttachmentBlobs,
  PartLengthError,
  type AttachmentDoc,
  type AttachmentPart,
} from './attachments.js';
export { sharedCollections, type SharedCollections } from './collections.js';
export { ensureSharedIndexes, SHARED_INDEXES, type SharedIndex } from './indexes.js';
export {
  bulkWriteErrors,
  deletePendingOf,
  DUPLICATE_KEY_CODE,
  eventsPage,
  isDuplicateKey,
  messagesPage,
  receiptsPage,
  sendDecision,
  type EventCursor,
  type MessageCursor,
} from './queries.js';
