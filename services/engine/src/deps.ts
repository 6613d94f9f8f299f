/** What the bus handlers (send, replay, acks) are all given. */
import type { SharedCollections } from '@gossip/store';
import type { EngineMetrics } from './metrics.js';
import type { Outbound } from './outbound.js';
import type { RecentMessages } from './recent.js';

export interface HandlerDeps {
  c: SharedCollections;
  out: Outbound;
  recent: RecentMessages;
  metrics: EngineMetrics;
}
