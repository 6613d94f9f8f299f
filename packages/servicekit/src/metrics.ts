/** A prom-client registry per service, with the process's default metrics. */
import { Registry, collectDefaultMetrics } from 'prom-client';

/** Every Gossip metric name starts with this. */
export const METRIC_PREFIX = 'gossip_';

export interface MetricsOptions {
  /** Collect the process/runtime metrics (`gossip_process_*`, `gossip_nodejs_*`). @default true */
  defaultMetrics?: boolean;
  /** Labels added to every series (for example `{ service: 'api' }`). */
  labels?: Record<string, string>;
}

/**
 * A fresh registry (never the global one, so tests can build many apps in one process).
 * Service metrics are registered on it with names starting with {@link METRIC_PREFIX}.
 */
export function createMetricsRegistry(opts: MetricsOptions = {}): Registry {
  const registry = new Registry();
  if (opts.labels) registry.setDefaultLabels(opts.labels);
  if (opts.defaultMetrics ?? true)
    collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  return registry;
}

export { Registry };
