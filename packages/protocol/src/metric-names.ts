/**
 * Metric names read outside the service that exports them: the operator's autoscaler, the
 * cdk8s alert rules, the bench and the tests. Defined once so a rename is one edit.
 */

/**
 * Gauge of open, authenticated WebSocket connections on one gateway: the gateway exports it,
 * the operator's autoscaler scales on it, the dashboards and alerts sum it.
 */
export const GATEWAY_CONNECTIONS_METRIC = 'gossip_gateway_connections';

// ---------------------------------------------------------------- attachments (issue 17)

/** api: counter of finished uploads (digest checked). */
export const ATTACHMENT_UPLOADS_METRIC = 'gossip_attachments_uploads_total';
/** api: counter of ciphertext bytes stored by upload parts. */
export const ATTACHMENT_UPLOADED_BYTES_METRIC = 'gossip_attachments_uploaded_bytes_total';
/** api: counter of downloads served to the end of what was asked. */
export const ATTACHMENT_DOWNLOADS_METRIC = 'gossip_attachments_downloads_total';
/** api: counter of ciphertext bytes sent by downloads. */
export const ATTACHMENT_DOWNLOADED_BYTES_METRIC = 'gossip_attachments_downloaded_bytes_total';
/** api: counter of refused attachment requests, by {@link ATTACHMENT_REFUSAL_REASONS}. */
export const ATTACHMENT_REFUSED_METRIC = 'gossip_attachments_refused_total';
/** The `reason` label values of {@link ATTACHMENT_REFUSED_METRIC}, all pre-initialised. */
export const ATTACHMENT_REFUSAL_REASONS = [
  'too_large',
  'quota',
  'offset',
  'digest',
  'not_found',
] as const;
export type AttachmentRefusalReason = (typeof ATTACHMENT_REFUSAL_REASONS)[number];

/** engine: gauge of ciphertext bytes of every attachment stored or uploading. */
export const ATTACHMENTS_STORED_BYTES_METRIC = 'gossip_attachments_stored_bytes';
/** engine: gauge of attachments stored or uploading. */
export const ATTACHMENTS_STORED_METRIC = 'gossip_attachments_stored';
/** engine: counter of attachments deleted because every recipient acked. */
export const ATTACHMENTS_DELETED_METRIC = 'gossip_attachments_deleted_total';
/** engine: counter of attachments removed by the sweep, by {@link ATTACHMENT_EXPIRY_REASONS}. */
export const ATTACHMENTS_EXPIRED_METRIC = 'gossip_attachments_expired_total';
/** The `reason` label values of {@link ATTACHMENTS_EXPIRED_METRIC}, both pre-initialised. */
export const ATTACHMENT_EXPIRY_REASONS = ['retention', 'unfinished'] as const;
export type AttachmentExpiryReason = (typeof ATTACHMENT_EXPIRY_REASONS)[number];
