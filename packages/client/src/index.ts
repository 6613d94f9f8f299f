/**
 * @gossip/client: the Gossip SDK for Node and browsers. REST client, local key
 * storage interface, trust-on-first-use key pinning and end-to-end encryption.
 * Node-only storage lives in `@gossip/client/node`.
 */
export { ApiClient, toSessionTokens, type ApiClientOptions, type SessionTokens } from './api.js';
export {
  ApiError,
  NetworkError,
  NotLoggedInError,
  KeyChangedError,
  MissingKeyError,
  FingerprintMismatchError,
  VerificationRequiredError,
  InsecureTransportError,
  DuplicateMessageError,
} from './errors.js';
export { checkTransportUrl, isLoopbackHost } from './transport-security.js';
export {
  MemoryKeyStore,
  newestKey,
  type KeyStore,
  type PinnedContact,
  type StoredConversationKey,
  type V2IdentityKey,
  type StoredSignedPrekey,
  type StoredOneTimePrekey,
  type StoredSession,
} from './keystore.js';
export {
  V2Sessions,
  V2_DEFAULTS,
  type V2Options,
  type V2ConversationStatus,
  type V2Opened,
} from './v2-sessions.js';
export {
  GossipClient,
  type GossipClientOptions,
  type OpenedDelivery,
  type OpenedContactEvent,
} from './gossip.js';
export {
  Messenger,
  type MessengerOptions,
  type MessengerEvents,
  type MessengerError,
  type MessengerStats,
  type MessengerHooks,
  type ChatMessage,
  type MessageHandler,
  type DeliveryState,
  type StatusEvent,
  type ContactEvent,
} from './ws/messenger.js';
export {
  GatewayConnection,
  type GatewayConnectionOptions,
  type ConnectionEvents,
  type ConnectionClosed,
  type TransportState,
} from './ws/connection.js';
export { apiTokenSource, type TokenSource } from './ws/token-source.js';
export {
  queryTokenFactory,
  withTicket,
  type WebSocketFactory,
  type WebSocketLike,
  type WebSocketConstructor,
  type SocketCloseEvent,
} from './ws/socket.js';
export { MemoryMessengerStore, BoundedIdSet, type MessengerStore } from './ws/store.js';
export {
  ATTACHMENT_MESSAGE_MARKER,
  MAX_THUMBNAIL_BYTES,
  THUMBNAIL_TYPES,
  encodeAttachmentMessage,
  parseAttachmentMessage,
  type AttachmentRef,
  type Thumbnail,
} from './attachments/message.js';
export { AttachmentsApi } from './attachments/rest.js';
export {
  uploadFile,
  type FileSource,
  type SendFileOptions,
  type TransferProgress,
  type UploadedFile,
} from './attachments/upload.js';
export {
  download,
  downloadTo,
  type DownloadOptions,
  type FileSink,
} from './attachments/download.js';
export { isTransient, type ResumeOptions } from './attachments/retry.js';
