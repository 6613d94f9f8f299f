/**
 * Reads each gateway pod's live connection count from the gateway's own
 * `/metrics` endpoint (`gossip_gateway_connections`). The pods are found the way
 * Kubernetes Services find them: through the EndpointSlices of the cluster's
 * gateway Service, so the same code serves real pods and the test's gateways
 * running outside Kubernetes.
 *
 * Why the metrics endpoint and not counts published to Redis: it is the live
 * number from the process that holds the sockets, it needs no credentials to a
 * data store in the operator, and a pod that cannot answer is plainly "unknown"
 * (a stale Redis key would look like a real count).
 */
import type { DiscoveryV1Api } from '@kubernetes/client-node';
import type { PodReading } from './recommend.js';

export const CONNECTIONS_METRIC = 'gossip_gateway_connections';

/** Where one gateway pod serves its metrics. */
export interface GatewayEndpoint {
  name: string;
  url: string;
}

/**
 * Lists the ready endpoints of `<cluster>-gateway` (its EndpointSlices carry the
 * `kubernetes.io/service-name` label), with their metrics URL on the port named `http`.
 */
export async function gatewayEndpoints(
  discovery: DiscoveryV1Api,
  namespace: string,
  serviceName: string,
): Promise<GatewayEndpoint[]> {
  const slices = await discovery.listNamespacedEndpointSlice({
    namespace,
    labelSelector: `kubernetes.io/service-name=${serviceName}`,
  });
  const out: GatewayEndpoint[] = [];
  for (const slice of slices.items) {
    const port = slice.ports?.find((p) => p.name === 'http') ?? slice.ports?.[0];
    if (!port?.port) continue;
    for (const ep of slice.endpoints) {
      // Terminating (draining) pods still hold connections until they close: count them.
      if (ep.conditions?.ready === false && ep.conditions?.terminating !== true) continue;
      const name = ep.targetRef?.name ?? ep.addresses[0] ?? 'unknown';
      for (const addr of ep.addresses.slice(0, 1)) {
        const host = addr.includes(':') ? `[${addr}]` : addr;
        out.push({ name, url: `http://${host}:${port.port}/metrics` });
      }
    }
  }
  return out;
}

/** Extracts the value of an unlabelled (or summed over labels) gauge from Prometheus text. */
export function parseGauge(text: string, metric: string): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(metric)) continue;
    const rest = line.slice(metric.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const value = Number(
      rest
        .replace(/^\{[^}]*\}/, '')
        .trim()
        .split(/\s+/)[0],
    );
    if (!Number.isFinite(value)) return undefined;
    sum = (sum ?? 0) + value;
  }
  return sum;
}

/** Reads every endpoint; one that fails or lacks the metric is `undefined` (unknown), never 0. */
export async function readConnections(
  endpoints: GatewayEndpoint[],
  timeoutMs = 2000,
): Promise<PodReading[]> {
  return Promise.all(
    endpoints.map(async (ep) => {
      try {
        const res = await fetch(ep.url, { signal: AbortSignal.timeout(timeoutMs) });
        if (!res.ok) return { name: ep.name, connections: undefined };
        return { name: ep.name, connections: parseGauge(await res.text(), CONNECTIONS_METRIC) };
      } catch {
        return { name: ep.name, connections: undefined };
      }
    }),
  );
}
