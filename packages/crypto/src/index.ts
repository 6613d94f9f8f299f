/**
 * @gossip/crypto: Gossip's end-to-end encryption on WebCrypto only
 * (`globalThis.crypto.subtle`), so the same code runs in Node 20 and browsers.
 * See docs/security.md for the scheme and its threat model.
 */
export { CryptoError, type CryptoErrorCode } from './errors.js';
export {
  fromBase64,
  toBase64,
  fromBase64Url,
  toBase64Url,
  toHex,
  fromHex,
  utf8,
  fromUtf8,
  encodeFields,
  randomBytes,
} from './bytes.js';
export {
  MIN_RSA_BITS,
  DEFAULT_RSA_BITS,
  generateWrappingKeyPair,
  generateSigningKeyPair,
  generateIdentityKeys,
  exportPublicKey,
  exportPublicKeys,
  importWrappingPublicKey,
  importSigningPublicKey,
  importPublicKeys,
  exportKeyJwk,
  exportIdentityKeysJwk,
  importWrappingKeyJwk,
  importSigningKeyJwk,
  importIdentityKeysJwk,
  type IdentityKeys,
  type IdentityKeysJwk,
  type PublicKeys,
  type PublicKeyStrings,
  type GenerateOptions,
} from './keys.js';
export {
  MESSAGE_BODY_VERSION,
  IV_BYTES,
  TAG_BYTES,
  generateConversationKey,
  importConversationKey,
  exportConversationKey,
  encryptMessage,
  decryptMessage,
  decryptMessageText,
  parseMessageBody,
  messageBodyLength,
  type ConversationKey,
  type MessageContext,
  type MessageBody,
} from './message.js';
export {
  KEY_ENVELOPE_VERSION,
  sealKeyEnvelope,
  openKeyEnvelope,
  parseKeyEnvelope,
  type KeyEnvelope,
  type SealKeyEnvelopeInput,
  type OpenKeyEnvelopeInput,
  type OpenedKeyEnvelope,
} from './envelope.js';
export {
  KEY_CHANGE_PROOF_VERSION,
  signKeyChange,
  verifyKeyChange,
  verifyKeyChain,
  type KeyChangeStatement,
  type KeyChainStep,
} from './continuity.js';
export {
  FINGERPRINT_ITERATIONS,
  FINGERPRINT_DIGITS,
  fingerprint,
  safetyNumber,
  formatSafetyNumber,
  type FingerprintParty,
} from './fingerprint.js';
export {
  generateAttachmentKey,
  importAttachmentKey,
  encryptAttachment,
  decryptAttachment,
  attachmentChunkNonce,
  attachmentChunkAad,
  AttachmentDigest,
  ATTACHMENT_FORMAT_VERSION,
  ATTACHMENT_SEALED_CHUNK_BYTES,
  type AttachmentKey,
  type AttachmentExpectation,
  type ByteSource,
} from './attachment.js';
export * from './v2/index.js';
