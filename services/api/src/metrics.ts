/** The api's Prometheus metrics, on one registry per app. */
import {
  ATTACHMENT_DOWNLOADED_BYTES_METRIC,
  ATTACHMENT_DOWNLOADS_METRIC,
  ATTACHMENT_REFUSAL_REASONS,
  ATTACHMENT_REFUSED_METRIC,
  ATTACHMENT_UPLOADED_BYTES_METRIC,
  ATTACHMENT_UPLOADS_METRIC,
} from '@gossip/protocol';
import { createMetricsRegistry, type Registry } from '@gossip/servicekit';
import { Counter, Histogram } from 'prom-client';

export interface ApiMetrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  duration: Histogram<'method' | 'route'>;
  errors: Counter<'code'>;
  logins: Counter<'result'>;
  registrations: Counter;
  rateLimited: Counter<'limit'>;
  attachmentUploads: Counter;
  attachmentUploadedBytes: Counter;
  attachmentDownloads: Counter;
  attachmentDownloadedBytes: Counter;
  attachmentRefused: Counter<'reason'>;
}

/** Every limit name `RateLimiter` counts refusals under (the `limit` label's values). */
export const RATE_LIMIT_NAMES = [
  'login_user_address',
  'login_ip',
  'delete_user',
  'register_ip',
  'search_user',
  'contact_request',
  'contact_change',
  'key_change',
  'prekey_bundle',
  'prekey_upload',
] as const;
export type RateLimitName = (typeof RATE_LIMIT_NAMES)[number];

export function createApiMetrics(): ApiMetrics {
  const registry = createMetricsRegistry({ labels: { service: 'api' } });
  const registers = [registry];
  const counter = (name: string, help: string): Counter => new Counter({ name, help, registers });
  const m: ApiMetrics = {
    registry,
    requests: new Counter({
      name: 'gossip_api_http_requests_total',
      help: 'HTTP requests by method, route template and status code.',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    duration: new Histogram({
      name: 'gossip_api_http_request_duration_seconds',
      help: 'HTTP request duration by method and route template.',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    errors: new Counter({
      name: 'gossip_api_errors_total',
      help: 'Error responses by catalog code.',
      labelNames: ['code'],
      registers,
    }),
    logins: new Counter({
      name: 'gossip_api_logins_total',
      help: 'Login attempts by result (ok, failed, rate_limited).',
      labelNames: ['result'],
      registers,
    }),
    registrations: new Counter({
      name: 'gossip_api_registrations_total',
      help: 'Accounts registered.',
      registers,
    }),
    rateLimited: new Counter({
      name: 'gossip_api_rate_limited_total',
      help: 'Requests refused by a rate limit, by limit name.',
      labelNames: ['limit'],
      registers,
    }),
    attachmentUploads: counter(ATTACHMENT_UPLOADS_METRIC, 'Attachment uploads finished.'),
    attachmentUploadedBytes: counter(
      ATTACHMENT_UPLOADED_BYTES_METRIC,
      'Ciphertext bytes of attachment parts stored.',
    ),
    attachmentDownloads: counter(
      ATTACHMENT_DOWNLOADS_METRIC,
      'Attachment downloads that streamed every byte asked for.',
    ),
    attachmentDownloadedBytes: counter(
      ATTACHMENT_DOWNLOADED_BYTES_METRIC,
      'Ciphertext bytes of attachments sent.',
    ),
    attachmentRefused: new Counter({
      name: ATTACHMENT_REFUSED_METRIC,
      help: 'Attachment requests refused: too large, over quota, wrong offset, digest mismatch, not found.',
      labelNames: ['reason'],
      registers,
    }),
  };
  // Series start at zero so dashboards and rate() see them before the first event.
  for (const result of ['ok', 'failed', 'rate_limited']) m.logins.inc({ result }, 0);
  for (const reason of ATTACHMENT_REFUSAL_REASONS) m.attachmentRefused.inc({ reason }, 0);
  for (const limit of RATE_LIMIT_NAMES) {
    m.rateLimited.inc({ limit }, 0);
  }
  return m;
}
