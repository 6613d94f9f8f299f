/**
 * Who may talk to whom in one Gossip cluster: the pure table behind the NetworkPolicies
 * (network-policies.ts). Every pod of the cluster is denied all ingress and egress by default;
 * these are the only allows:
 *
 * - gateway -> RabbitMQ, Redis; engine -> RabbitMQ, MongoDB, Redis; api -> MongoDB, Redis;
 *   every app component -> DNS.
 * - clients (any source) -> the public ports of the api and the gateway.
 * - monitoring (`spec.networkPolicy.monitoring`) -> the ops ports of api, gateway and engine;
 *   the operator (`spec.networkPolicy.operator`) -> the gateway's ops port (the autoscaler
 *   reads connection counts there).
 * - each managed store accepts only its users on its client port, and its own pods on its peer
 *   ports (RabbitMQ clustering, MongoDB replica set, Redis replication); it may reach its own
 *   pods and DNS, nothing else.
 *
 * An external store is outside the cluster, so its users may reach its usual ports on any
 * address (the real port is in a Secret the builders never read).
 */
import { storeUsers } from '../api/backing-services.js';
import type { BackingServiceName } from '../api/v1alpha1.js';
import type { ClusterContext } from './context.js';
import type { AppComponent, Component } from './naming.js';
import { opsPorts, peerPorts, ports, publicPorts, selectorFor } from './naming.js';

/** A `networking.k8s.io/v1` NetworkPolicyPort. */
export interface PolicyPort {
  protocol: 'TCP' | 'UDP';
  port: number;
}

/** A NetworkPolicyPeer. */
export interface PolicyPeer {
  podSelector?: { matchLabels?: Record<string, string> };
  namespaceSelector?: { matchLabels?: Record<string, string> };
}

/** One ingress (`from`) or egress (`to`) rule; no peers means any address. */
export interface PolicyRule {
  peers?: PolicyPeer[];
  ports: PolicyPort[];
}

/** The allows of one component's pods. */
export interface ComponentRules {
  ingress: PolicyRule[];
  egress: PolicyRule[];
}

// Which app components use each backing service: defined with the API (an external store takes
// a URL per user), re-exported here beside the rules it decides.
export { storeUsers };

/** Ports an external store usually listens on (plain and TLS). */
export const externalStorePorts: Readonly<Record<BackingServiceName, readonly number[]>> = {
  rabbitmq: [ports.rabbitmq, 5671],
  mongodb: [ports.mongodb],
  redis: [ports.redis, 6380],
};

const tcp = (...list: readonly number[]): PolicyPort[] =>
  list.map((port) => ({ protocol: 'TCP', port }));

/** DNS over UDP and TCP to any address (cluster DNS may be a node-local cache off the pod net). */
export const dnsRule: PolicyRule = {
  ports: [
    { protocol: 'UDP', port: 53 },
    { protocol: 'TCP', port: 53 },
  ],
};

/** The pods of one component of this cluster, in the cluster's namespace. */
function podsOf(ctx: ClusterContext, c: Component): PolicyPeer {
  return { podSelector: { matchLabels: selectorFor(ctx.name, c) } };
}

function outside(peer: {
  namespaceSelector: Record<string, string>;
  podSelector: Record<string, string>;
}): PolicyPeer {
  // An empty selector is `{}` (every namespace, every pod); `matchLabels: {}` means the same
  // but does not survive a round trip through the API server unchanged.
  const selector = (labels: Record<string, string>) =>
    Object.keys(labels).length > 0 ? { matchLabels: { ...labels } } : {};
  return {
    namespaceSelector: selector(peer.namespaceSelector),
    podSelector: selector(peer.podSelector),
  };
}

function appRules(ctx: ClusterContext, c: AppComponent): ComponentRules {
  const { monitoring, operator } = ctx.spec.networkPolicy;
  const ingress: PolicyRule[] = [];
  if (c === 'api' || c === 'gateway') ingress.push({ ports: tcp(publicPorts[c]) });
  const scrapers = [outside(monitoring), ...(c === 'gateway' ? [outside(operator)] : [])];
  ingress.push({ peers: scrapers, ports: tcp(opsPorts[c]) });
  const egress: PolicyRule[] = [dnsRule];
  for (const store of ['rabbitmq', 'mongodb', 'redis'] as const) {
    if (!(storeUsers[store] as readonly AppComponent[]).includes(c)) continue;
    egress.push(
      ctx.spec[store].managed
        ? { peers: [podsOf(ctx, store)], ports: tcp(ports[store]) }
        : { ports: tcp(...externalStorePorts[store]) },
    );
  }
  return { ingress, egress };
}

function storeRules(ctx: ClusterContext, s: BackingServiceName): ComponentRules {
  const own = podsOf(ctx, s);
  const peers = tcp(...peerPorts[s]);
  return {
    ingress: [
      { peers: storeUsers[s].map((c) => podsOf(ctx, c)), ports: tcp(ports[s]) },
      { peers: [own], ports: peers },
    ],
    egress: [dnsRule, { peers: [own], ports: peers }],
  };
}

/**
 * The allows per component that runs in this cluster (managed stores only where the spec
 * manages them), in a fixed order: api, gateway, engine, then the managed stores.
 */
export function networkRules(ctx: ClusterContext): Partial<Record<Component, ComponentRules>> {
  const out: Partial<Record<Component, ComponentRules>> = {};
  for (const c of ['api', 'gateway', 'engine'] as const) out[c] = appRules(ctx, c);
  for (const s of ['rabbitmq', 'mongodb', 'redis'] as const) {
    if (ctx.spec[s].managed) out[s] = storeRules(ctx, s);
  }
  return out;
}
