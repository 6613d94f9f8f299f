/** The engine's metrics, on its own registry (series start at zero; no client values as labels). */
import { Counter, Gauge, Histogram } from 'prom-client';
import { createMetricsRegistry, type Registry } from '@gossip/servicekit';
import {
  ATTACHMENT_EXPIRY_REASONS,
  ATTACHMENTS_DELETED_METRIC,
  ATTACHMENTS_EXPIRED_METRIC,
  ATTACHMENTS_STORED_BYTES_METRIC,
  ATTACHMENTS_STORED_METRIC,
  BUS_INVALID_REASONS,
  ERROR_CODES,
} from '@gossip/protocol';

export interface EngineMetrics {
  registry: Registry;
  busMessages: Counter<'op'>;
  busInvalid: Counter<'reason'>;
  accepted: Counter;
  duplicates: Counter;
  delivered: Counter;
  acked: Counter;
  redelivered: Counter;
  expired: Counter;
  eventsExpired: Counter;
  receiptsExpired: Counter;
  replayPages: Counter<'kind'>;
  pending: Gauge;
  oldestPendingAge: Gauge;
  acceptLatency: Histogram;
  deliveryLatency: Histogram;
  storeBatch: Histogram;
  ackBatch: Histogram;
  storeCommands: Counter<'command'>;
  inflight: Gauge;
  oldestInflightAge: Gauge;
  errors: Counter<'code'>;
  signals: Counter<'result'>;
  receiptsStored: Counter;
  attachmentsStored: Gauge;
  attachmentsStoredBytes: Gauge;
  attachmentsDeleted: Counter;
  attachmentsExpired: Counter<'reason'>;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createEngineMetrics(): EngineMetrics {
  const registry = createMetricsRegistry({ labels: { service: 'engine' } });
  const registers = [registry];
  const counter = (name: string, help: string): Counter => new Counter({ name, help, registers });
  const m: EngineMetrics = {
    registry,
    busMessages: new Counter({
      name: 'gossip_engine_bus_messages_total',
      help: 'Messages consumed from the engine queue, by operation.',
      labelNames: ['op'],
      registers,
    }),
    busInvalid: new Counter({
      name: 'gossip_engine_bus_invalid_total',
      help: 'Messages on the engine queue that failed validation and were dropped, by reason.',
      labelNames: ['reason'],
      registers,
    }),
    accepted: counter(
      'gossip_engine_messages_accepted_total',
      'Messages newly stored in MongoDB (resends of a stored id are not counted).',
    ),
    duplicates: counter(
      'gossip_engine_messages_duplicate_total',
      'Resends of an already stored message id (idempotent, answered `stored`).',
    ),
    delivered: counter(
      'gossip_engine_messages_delivered_total',
      'Deliveries routed to a gateway: live, replays on connect and redeliveries.',
    ),
    acked: counter(
      'gossip_engine_messages_acked_total',
      'Messages deleted after their recipient acked them.',
    ),
    redelivered: counter(
      'gossip_engine_messages_redelivered_total',
      'Messages re-sent because their recipient stayed connected without acking.',
    ),
    expired: counter(
      'gossip_engine_messages_expired_total',
      'Undelivered messages deleted by the retention sweeper.',
    ),
    pending: new Gauge({
      name: 'gossip_engine_pending_messages',
      help: 'Messages stored and not yet acked (the backlog).',
      registers,
    }),
    oldestPendingAge: new Gauge({
      name: 'gossip_engine_oldest_pending_age_seconds',
      help: 'Age of the oldest stored message (0 when none).',
      registers,
    }),
    acceptLatency: new Histogram({
      name: 'gossip_engine_accept_latency_seconds',
      help: 'From the gateway receiving a send to the engine having stored it.',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    deliveryLatency: new Histogram({
      name: 'gossip_engine_delivery_latency_seconds',
      help: 'From acceptance (sentAt) to the recipient’s ack.',
      buckets: [...LATENCY_BUCKETS, 30, 60, 300, 3600],
      registers,
    }),
    storeBatch: new Histogram({
      name: 'gossip_engine_store_batch_size',
      help: 'Messages stored per insert (sends arriving together share one).',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers,
    }),
    ackBatch: new Histogram({
      name: 'gossip_engine_ack_batch_frames',
      help: 'Ack frames per batch of deletes (acks arriving together share one).',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers,
    }),
    inflight: new Gauge({
      name: 'gossip_engine_bus_inflight',
      help: 'Bus messages handed to a handler and not yet acked or requeued.',
      registers,
    }),
    oldestInflightAge: new Gauge({
      name: 'gossip_engine_oldest_inflight_seconds',
      help: 'How long the oldest bus message in hand has been (refreshed every 5 s).',
      registers,
    }),
    storeCommands: new Counter({
      name: 'gossip_engine_store_commands_total',
      help: 'Commands this engine sent to MongoDB (round trips), by command name.',
      labelNames: ['command'],
      registers,
    }),
    errors: new Counter({
      name: 'gossip_engine_errors_total',
      help: 'Errors returned to clients, by code, plus internal failures (`internal`).',
      labelNames: ['code'],
      registers,
    }),
    signals: new Counter({
      name: 'gossip_engine_signals_total',
      help: 'Ephemeral signals, by result (relayed, offline, refused).',
      labelNames: ['result'],
      registers,
    }),
    receiptsStored: counter(
      'gossip_engine_receipts_stored_total',
      '`delivered` receipts stored for an offline sender.',
    ),
    eventsExpired: counter(
      'gossip_engine_contact_events_expired_total',
      'Unacked contact events deleted by the retention sweeper.',
    ),
    receiptsExpired: counter(
      'gossip_engine_receipts_expired_total',
      'Receipts never fetched by their sender, deleted by the retention sweeper.',
    ),
    replayPages: new Counter({
      name: 'gossip_engine_replay_pages_total',
      help: 'Pages read from MongoDB by connect replays, by kind (messages, events, receipts).',
      labelNames: ['kind'],
      registers,
    }),
    attachmentsStored: new Gauge({
      name: ATTACHMENTS_STORED_METRIC,
      help: 'Attachments stored or uploading (refreshed by each sweep).',
      registers,
    }),
    attachmentsStoredBytes: new Gauge({
      name: ATTACHMENTS_STORED_BYTES_METRIC,
      help: 'Ciphertext bytes of the attachments stored or uploading (refreshed by each sweep).',
      registers,
    }),
    attachmentsDeleted: counter(
      ATTACHMENTS_DELETED_METRIC,
      'Attachments deleted because every recipient acked a message carrying them.',
    ),
    attachmentsExpired: new Counter({
      name: ATTACHMENTS_EXPIRED_METRIC,
      help: 'Attachments deleted by the sweep: past retention, or an upload never finished.',
      labelNames: ['reason'],
      registers,
    }),
  };
  for (const code of ERROR_CODES) m.errors.inc({ code }, 0);
  for (const op of ['send', 'ack', 'connected', 'signal']) m.busMessages.inc({ op }, 0);
  for (const reason of BUS_INVALID_REASONS) m.busInvalid.inc({ reason }, 0);
  for (const result of ['relayed', 'offline', 'refused']) m.signals.inc({ result }, 0);
  for (const kind of ['messages', 'events', 'receipts']) m.replayPages.inc({ kind }, 0);
  for (const reason of ATTACHMENT_EXPIRY_REASONS) m.attachmentsExpired.inc({ reason }, 0);
  m.attachmentsStored.set(0);
  m.attachmentsStoredBytes.set(0);
  m.pending.set(0);
  m.inflight.set(0);
  m.oldestInflightAge.set(0);
  m.oldestPendingAge.set(0);
  return m;
}
