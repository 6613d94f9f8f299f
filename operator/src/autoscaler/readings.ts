/**
 * Reads each gateway pod's live connection count from the gateway's own
 * `/metrics` endpoint (`gossip_gateway_connections`). The pods are found by the
 * gateway Deployment's selector labels, at their pod IP and the container port
 * named `ops` (`opsPortName`: the gateway serves `/metrics` only on its ops
 * listener, never on the public `http` port); tests register gateways running
 * outside Kubernetes the same way, as Pod objects whose status they set.
 *
 * Why the metrics endpoint and not counts published to Redis: it is the live
 * number from the process that holds the sockets, it needs no credentials to a
 * data store in the operator, and a pod that cannot answer is plainly "unknown"
 * (a stale Redis key would look like a real count).
 *
 * (EndpointSlices were the first choice, but the API server refuses loopback
 * addresses in them, which would leave the integration test no way in.)
 */
import type { CoreV1Api } from '@kubernetes/client-node';
import { GATEWAY_CONNECTIONS_METRIC, opsPortName, toLabelSelector } from '@gossip/cdk8s';
import type { PodReading } from './recommend.js';

/** The gauge the autoscaler reads (defined once in @gossip/protocol, re-exported by cdk8s). */
export const CONNECTIONS_METRIC = GATEWAY_CONNECTIONS_METRIC;

/** Where one gateway pod serves its metrics. */
export interface GatewayEndpoint {
  name: string;
  /**
   * The pod's `/metrics` URL; undefined for a Running pod without an `ops` port (a gateway
   * image from before the ops listener, during an upgrade), whose count is then unknown.
   */
  url: string | undefined;
}

/**
 * The gateway pods matching `selector` that have an IP. Pods without one have not
 * started and hold no connections, so they are left out rather than "unknown";
 * terminating (draining) pods still hold connections until they close, so they count.
 */
export async function gatewayEndpoints(
  core: CoreV1Api,
  namespace: string,
  selector: Record<string, string>,
): Promise<GatewayEndpoint[]> {
  const pods = await core.listNamespacedPod({
    namespace,
    labelSelector: toLabelSelector(selector),
  });
  const out: GatewayEndpoint[] = [];
  for (const pod of pods.items) {
    const ip = pod.status?.podIP;
    if (!ip || pod.status?.phase !== 'Running') continue;
    const port = pod.spec?.containers
      .flatMap((c) => c.ports ?? [])
      .find((p) => p.name === opsPortName)?.containerPort;
    const host = ip.includes(':') ? `[${ip}]` : ip;
    out.push({
      name: pod.metadata?.name ?? ip,
      url: port ? `http://${host}:${port}/metrics` : undefined,
    });
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
      if (ep.url === undefined) return { name: ep.name, connections: undefined };
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
