/** The gateway's metrics, on its own registry (series start at zero; no client values as labels). */
import { Counter, Gauge, Histogram } from 'prom-client';
import { CAP_REFUSALS } from './caps.js';
import { createMetricsRegistry, type Registry } from '@gossip/servicekit';
import {
  ERROR_CODES,
  CLIENT_FRAMES,
  BUS_INVALID_REASONS,
  GATEWAY_CONNECTIONS_METRIC,
  GATEWAY_MESSAGES,
} from '@gossip/protocol';

export interface GatewayMetrics {
  registry: Registry;
  connections: Gauge;
  connectionsOpened: Counter;
  connectionsClosed: Counter;
  upgradesRejected: Counter<'reason'>;
  framesIn: Counter<'type'>;
  accepted: Counter;
  delivered: Counter;
  pushed: Counter<'type'>;
  acceptLatency: Histogram;
  deliverLatency: Histogram;
  errors: Counter<'code'>;
  backpressureSkipped: Counter;
  slowClosed: Counter;
  rateLimitClosed: Counter;
  busInvalid: Counter<'reason'>;
  busMessages: Counter<'op'>;
  sessionsClosed: Counter<'reason'>;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createGatewayMetrics(): GatewayMetrics {
  const registry = createMetricsRegistry({ labels: { service: 'gateway' } });
  const registers = [registry];
  const m: GatewayMetrics = {
    registry,
    connections: new Gauge({
      name: GATEWAY_CONNECTIONS_METRIC,
      help: 'Open, authenticated WebSocket connections on this gateway.',
      registers,
    }),
    connectionsOpened: new Counter({
      name: 'gossip_gateway_connections_opened_total',
      help: 'Authenticated WebSocket connections opened (churn, with the closed counter).',
      registers,
    }),
    connectionsClosed: new Counter({
      name: 'gossip_gateway_connections_closed_total',
      help: 'Authenticated WebSocket connections closed, for any reason.',
      registers,
    }),
    upgradesRejected: new Counter({
      name: 'gossip_gateway_upgrades_rejected_total',
      help: 'WebSocket upgrades refused, by reason.',
      labelNames: ['reason'],
      registers,
    }),
    framesIn: new Counter({
      name: 'gossip_gateway_frames_received_total',
      help: 'Valid client frames received, by type.',
      labelNames: ['type'],
      registers,
    }),
    accepted: new Counter({
      name: 'gossip_gateway_messages_accepted_total',
      help: '`accepted` frames sent (the message was stored).',
      registers,
    }),
    delivered: new Counter({
      name: 'gossip_gateway_messages_delivered_total',
      help: '`deliver` frames written to recipients (including redeliveries).',
      registers,
    }),
    pushed: new Counter({
      name: 'gossip_gateway_frames_pushed_total',
      help: 'Frames pushed to clients from the engine, by type.',
      labelNames: ['type'],
      registers,
    }),
    acceptLatency: new Histogram({
      name: 'gossip_gateway_accept_latency_seconds',
      help: 'From a `send` frame arriving to its `accepted` going out.',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    deliverLatency: new Histogram({
      name: 'gossip_gateway_deliver_latency_seconds',
      help: 'From acceptance (sentAt) to the first live `deliver` written to the recipient.',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    errors: new Counter({
      name: 'gossip_gateway_errors_total',
      help: '`error` frames sent to clients, by code.',
      labelNames: ['code'],
      registers,
    }),
    backpressureSkipped: new Counter({
      name: 'gossip_gateway_backpressure_skipped_total',
      help: 'Pushes skipped because the socket was over its high-water mark (redelivered later).',
      registers,
    }),
    slowClosed: new Counter({
      name: 'gossip_gateway_slow_closed_total',
      help: 'Sockets closed with 1013 because their send buffer exceeded the limit.',
      registers,
    }),
    rateLimitClosed: new Counter({
      name: 'gossip_gateway_rate_limit_closed_total',
      help: 'Sockets closed with 4429 for sending past their rate limit after rate_limited errors.',
      registers,
    }),
    busInvalid: new Counter({
      name: 'gossip_gateway_bus_invalid_total',
      help: 'Messages on this gateway’s queue that failed validation and were dropped, by reason.',
      labelNames: ['reason'],
      registers,
    }),
    busMessages: new Counter({
      name: 'gossip_gateway_bus_messages_total',
      help: 'Valid messages taken off this gateway’s queue, by op.',
      labelNames: ['op'],
      registers,
    }),
    sessionsClosed: new Counter({
      name: 'gossip_gateway_sessions_closed_total',
      help: 'Sockets closed because their token expired (4401) or their session was revoked (4403).',
      labelNames: ['reason'],
      registers,
    }),
  };
  for (const reason of ['expired', 'revoked']) m.sessionsClosed.inc({ reason }, 0);
  for (const code of ERROR_CODES) m.errors.inc({ code }, 0);
  for (const type of Object.keys(CLIENT_FRAMES)) m.framesIn.inc({ type }, 0);
  for (const reason of ['unauthorized', 'draining', 'origin', 'not_found', 'redis']) {
    m.upgradesRejected.inc({ reason }, 0);
  }
  for (const type of ['deliver', 'delivered', 'contact', 'signal']) m.pushed.inc({ type }, 0);
  for (const reason of CAP_REFUSALS) m.upgradesRejected.inc({ reason }, 0);
  for (const reason of BUS_INVALID_REASONS) m.busInvalid.inc({ reason }, 0);
  for (const op of Object.keys(GATEWAY_MESSAGES)) m.busMessages.inc({ op }, 0);
  m.connections.set(0);
  return m;
}
