/**
 * Deterministic names, labels and ports of everything a GossipCluster owns. The operator finds
 * its children (and the Secrets it must create) by these names, so they are part of the API.
 */
import { createHash } from 'node:crypto';
import type { BackingServiceName } from '../api/v1alpha1.js';

export type AppComponent = 'api' | 'gateway' | 'engine';
export type Component = AppComponent | BackingServiceName;

/** Container (and Service) ports fixed by the shared service contract. */
export const ports = {
  api: 8080,
  gateway: 8081,
  engine: 9091,
  rabbitmq: 5672,
  mongodb: 27017,
  redis: 6379,
} as const satisfies Record<Component, number>;

/**
 * Port of each app component's ops listener (`/healthz`, `/readyz`, `/metrics`): what
 * monitoring scrapes, the probes use and the operator's autoscaler reads (the gateway's).
 * The api's (`API_OPS_PORT`) and the gateway's (`GATEWAY_OPS_PORT`) are apart from their
 * public ports, so clients never reach `/metrics`; the engine has no other port.
 */
export const opsPorts = {
  api: 9090,
  gateway: 9092,
  engine: ports.engine,
} as const satisfies Record<AppComponent, number>;

/**
 * The container and Service port name of a separate ops listener (see {@link opsPorts});
 * monitors and the operator's autoscaler find the port by this name, never by number.
 */
export const opsPortName = 'ops';

/** The container and Service port name of an app component's main port. */
export const httpPortName = 'http';

/**
 * The app components whose ops listener is a port of its own, named `ops` on the pod and the
 * Service (the others serve `/metrics` on their one `http` port). Monitors scrape `ops` for
 * these and `http` for the rest.
 */
export const separateOpsPort: readonly AppComponent[] = (
  ['api', 'gateway', 'engine'] as const
).filter((c) => opsPorts[c] !== ports[c]);

/** The public port of the app components clients reach (the engine has none). */
export const publicPorts = {
  api: ports.api,
  gateway: ports.gateway,
} as const satisfies Partial<Record<AppComponent, number>>;

/** Ports the pods of a managed backing service use among themselves (clustering, replication). */
export const peerPorts = {
  /** epmd and Erlang distribution. */
  rabbitmq: [4369, 25672],
  mongodb: [ports.mongodb],
  redis: [ports.redis],
} as const satisfies Record<BackingServiceName, readonly number[]>;

export const managedBy = 'gossip-operator';

/** Pod template annotation holding the hash of the config a pod reads; a change rolls pods. */
export const configHashAnnotation = 'gossip.dev/config-hash';

/** The labels every object of `cluster` carries (per the shared contract). */
export function labelsFor(cluster: string, component: Component): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'gossip',
    'app.kubernetes.io/instance': cluster,
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/managed-by': managedBy,
  };
}

/**
 * The immutable subset used in selectors (a Deployment's selector cannot change later, so it
 * leaves out `managed-by`, which a user may relabel).
 */
export function selectorFor(cluster: string, component: Component): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'gossip',
    'app.kubernetes.io/instance': cluster,
    'app.kubernetes.io/component': component,
  };
}

/** Names of the objects of one cluster. */
export function namesFor(cluster: string) {
  return {
    /** Deployment, Service, ServiceAccount and ConfigMap of an app component. */
    app: (c: AppComponent) => `${cluster}-${c}`,
    /** StatefulSet and client Service of a managed backing service. */
    store: (s: BackingServiceName) => `${cluster}-${s}`,
    /** The headless Service giving StatefulSet pods stable DNS names. */
    headless: (s: BackingServiceName) => `${cluster}-${s}-headless`,
    /** ConfigMap with a managed backing service's config files. */
    storeConfig: (s: BackingServiceName) => `${cluster}-${s}-config`,
    gatewayPdb: `${cluster}-gateway`,
    /** The Ingress of `spec.ingress`. */
    ingress: `${cluster}`,
    /** The NetworkPolicy of one component. */
    networkPolicy: (c: Component) => `${cluster}-${c}`,
    /** The NetworkPolicy denying everything to and from every pod of the cluster. */
    defaultDenyPolicy: `${cluster}-default-deny`,
    monitoring: `${cluster}`,
  };
}

/**
 * The Secrets the operator generates once (random values) and never overwrites; the
 * constructs only reference them. `key` entries are the data keys each one holds.
 */
export function generatedSecretNames(cluster: string) {
  return {
    /**
     * `private-keys`: the api's access-token signing keys, a JSON JWK set of Ed25519 private
     * keys (the first signs). Read by the api only.
     */
    jwt: `${cluster}-jwt`,
    /**
     * `public-keys`: the public half of `jwt` (a JSON JWK set), derived from it. Read by the
     * gateways, which so never hold a signing key.
     */
    'jwt-public': `${cluster}-jwt-public`,
    /** `username`, `password`, `erlang-cookie`, `url` (amqp://...). */
    rabbitmq: `${cluster}-rabbitmq`,
    /** `username`, `password`, `url` (mongodb://...?authSource=admin). */
    mongodb: `${cluster}-mongodb`,
    /** `password`, `url` (redis://:password@...). */
    redis: `${cluster}-redis`,
    /**
     * Per-component RabbitMQ users (store-rights.ts): `<component>-password` and
     * `<component>-url` (amqp://<component>:...@.../gossip) for the gateway and the engine.
     */
    'rabbitmq-users': `${cluster}-rabbitmq-users`,
    /**
     * Per-component Redis ACL users: `<component>-password`, `<component>-url` for the api,
     * gateway and engine, and `replication-password` (replicas and the readiness probe).
     */
    'redis-users': `${cluster}-redis-users`,
  } as const;
}

/** The key of a per-component users Secret holding `component`'s password. */
export function passwordKeyOf(component: string): string {
  return `${component}-password`;
}

/** The key of a per-component users Secret holding `component`'s connection URL. */
export function urlKeyOf(component: string): string {
  return `${component}-url`;
}

/** The key of a generated backing-service Secret that holds the client connection URL. */
export const urlKey = 'url';
/** The key of the JWT Secret (the api's private JWK set). */
export const jwtKey = 'private-keys';
/** The key of the public JWT Secret (the gateways' public JWK set). */
export const jwtPublicKey = 'public-keys';

/** In-cluster DNS name of a Service. */
export function serviceHost(service: string, namespace: string): string {
  return `${service}.${namespace}.svc`;
}

/**
 * sha256 over the ConfigMap data and the referenced Secret names with their versions, in a
 * canonical (sorted) order so equal inputs always give the same hash.
 * @param data the ConfigMap data the pods read
 * @param secretNames names of the Secrets the pods read
 * @param versions version per Secret name (missing: the name alone counts)
 */
export function configHash(
  data: Readonly<Record<string, string>>,
  secretNames: readonly string[],
  versions: Readonly<Record<string, string>>,
): string {
  const canonical = {
    data: Object.keys(data)
      .sort()
      .map((k) => [k, data[k]]),
    secrets: [...new Set(secretNames)].sort().map((name) => [name, versions[name] ?? '']),
  };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

/**
 * The GossipCluster finalizer the operator sets under `dataRetentionPolicy: Delete`: on
 * deletion it deletes the managed stores' PVCs itself, then removes the finalizer. The
 * StatefulSets' own retention policy is not enough alone: the StatefulSet controller adds
 * its owner reference to a new PVC only on a later sync, so a cluster deleted soon after a
 * claim was created leaves that claim behind (kubernetes/kubernetes#142130).
 */
export const dataRetentionFinalizer = 'gossip.dev/data-retention';

/**
 * The labels every object the operator made for `cluster` carries, whatever its component
 * (PVCs from the stores' claim templates included): {@link labelsFor} without the component.
 */
export function instanceLabels(cluster: string): Record<string, string> {
  const { 'app.kubernetes.io/component': _component, ...rest } = labelsFor(cluster, 'api');
  return rest;
}

/** `labels` as a Kubernetes label selector (`k=v,k=v`) for list calls. */
export function toLabelSelector(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}
