/**
 * `spec.attachments`: the limits and lifetimes of encrypted attachments (issue 17). Sizes are
 * integer bytes and durations integer seconds, as the rest of the spec spells them
 * (`retention.messageSeconds`), so each maps to its service variable unchanged: the api's
 * `API_ATTACHMENT_*` and the engine's `ENGINE_ATTACHMENT_*` (the api reports the expiry the
 * engine's sweep enforces, so both get the same two lifetimes). Defaults are @gossip/protocol's,
 * the ones the services fall back to.
 */
import {
  ATTACHMENT_CHUNK_BYTES,
  ATTACHMENT_TAG_BYTES,
  DEFAULT_ATTACHMENT_MAX_BYTES,
  DEFAULT_ATTACHMENT_QUOTA_BYTES,
  DEFAULT_ATTACHMENT_RETENTION_SECONDS,
  DEFAULT_ATTACHMENT_UPLOAD_TIMEOUT_SECONDS,
} from '@gossip/protocol';
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { withRules, type CrossFieldRule } from './rules.js';
import { Defaulted } from './schema-helpers.js';

/** Largest `maxBytes` the CRD takes (4 GiB): far above a chat file, below any int overflow. */
export const maxAttachmentBytes = 4 * 1024 ** 3;
/** Largest `quotaBytes` the CRD takes (1 TiB per user). */
export const maxAttachmentQuotaBytes = 1024 ** 4;

/**
 * The quota counts ciphertext (every chunk carries a tag), the limit plaintext: a quota below
 * the ciphertext of one largest file would refuse every file near the limit. The CEL is
 * `attachmentCiphertextBytes(maxBytes)` of @gossip/protocol (maxBytes is at least 1, so at
 * least one chunk), in integer arithmetic.
 */
export const attachmentsRules: readonly CrossFieldRule[] = [
  {
    // has(): the API server also checks the schema's own `default: {}`, before nested defaults.
    rule:
      '!has(self.maxBytes) || !has(self.quotaBytes) || self.quotaBytes >= self.maxBytes + ' +
      `${ATTACHMENT_TAG_BYTES} * ((self.maxBytes + ${ATTACHMENT_CHUNK_BYTES - 1}) / ${ATTACHMENT_CHUNK_BYTES})`,
    message:
      'attachments.quotaBytes must hold at least one file of maxBytes (its ciphertext: ' +
      `maxBytes plus ${ATTACHMENT_TAG_BYTES} bytes per ${ATTACHMENT_CHUNK_BYTES}-byte chunk)`,
  },
];

/** `spec.attachments`. */
export const AttachmentsSpec = Type.Object(
  {
    maxBytes: Defaulted(
      Type.Integer({
        minimum: 1,
        maximum: maxAttachmentBytes,
        description:
          'Largest file in plaintext bytes (API_ATTACHMENT_MAX_BYTES); the api refuses larger ' +
          'uploads (413 attachment_too_large).',
      }),
      DEFAULT_ATTACHMENT_MAX_BYTES,
    ),
    quotaBytes: Defaulted(
      Type.Integer({
        minimum: 1,
        maximum: maxAttachmentQuotaBytes,
        description:
          'Per-user ciphertext bytes of every attachment stored or uploading ' +
          '(API_ATTACHMENT_QUOTA_BYTES; 403 attachment_quota_exceeded beyond it).',
      }),
      DEFAULT_ATTACHMENT_QUOTA_BYTES,
    ),
    retentionSeconds: Defaulted(
      Type.Integer({
        minimum: 60,
        maximum: 31_536_000,
        description:
          'A finished attachment not acked by all its recipients is removed this long after ' +
          'its finish (ENGINE_ATTACHMENT_RETENTION_SECONDS, API_ATTACHMENT_RETENTION_SECONDS).',
      }),
      DEFAULT_ATTACHMENT_RETENTION_SECONDS,
    ),
    uploadTimeoutSeconds: Defaulted(
      Type.Integer({
        minimum: 60,
        maximum: 604_800,
        description:
          'An upload not finished this long after it was created is removed ' +
          '(ENGINE_ATTACHMENT_UPLOAD_TIMEOUT_SECONDS, API_ATTACHMENT_UPLOAD_TIMEOUT_SECONDS).',
      }),
      DEFAULT_ATTACHMENT_UPLOAD_TIMEOUT_SECONDS,
    ),
  },
  {
    description: 'Encrypted attachments: size limit, per-user quota and how long they are kept.',
    ...withRules(attachmentsRules),
  },
);
export type AttachmentsSpec = Static<typeof AttachmentsSpec>;
