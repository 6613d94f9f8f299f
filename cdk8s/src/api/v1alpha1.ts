/**
 * The GossipCluster API (gossip.dev/v1alpha1): one TypeBox schema is the source of truth for
 * the CRD (see ../crd.ts), the offline validation of `npm run synth` and the TypeScript types
 * the constructs and the operator use.
 */
import { Type } from '@sinclair/typebox';
import type { Static, TObject } from '@sinclair/typebox';
import {
  rootRules,
  withRules,
  backingServiceRules,
  gatewayRules,
  mongodbManagedRules,
  storageRules,
} from './rules.js';
import {
  Defaulted,
  Resources,
  StringEnum,
  dnsSubdomainPattern,
  quantityPattern,
} from './schema-helpers.js';
import type { Resolved } from './schema-helpers.js';
import { GossipClusterStatus } from './status.js';

export const group = 'gossip.dev';
export const version = 'v1alpha1';
export const apiVersion = `${group}/${version}`;
export const kind = 'GossipCluster';
export const plural = 'gossipclusters';
export const singular = 'gossipcluster';

const res = (cpu: string, memory: string, memoryLimit: string) =>
  Defaulted(Resources, { requests: { cpu, memory }, limits: { memory: memoryLimit } });

export const ImageSpec = Type.Object(
  {
    registry: Defaulted(Type.String({ minLength: 1 }), 'ghcr.io'),
    repository: Defaulted(Type.String({ minLength: 1 }), 'gossip'),
    tag: Type.Optional(Type.String({ minLength: 1, description: 'Defaults to spec.version.' })),
    pullPolicy: Defaulted(StringEnum(['Always', 'IfNotPresent', 'Never']), 'IfNotPresent'),
    components: Type.Optional(
      Type.Object(
        {
          api: Type.Optional(Type.String({ minLength: 1 })),
          gateway: Type.Optional(Type.String({ minLength: 1 })),
          engine: Type.Optional(Type.String({ minLength: 1 })),
        },
        {
          description:
            'Full image references per component; each overrides registry/repository/tag.',
        },
      ),
    ),
  },
  { description: 'Images are <registry>/<repository>/<component>:<tag>.' },
);

export const GatewaySpec = Type.Object(
  {
    minReplicas: Defaulted(Type.Integer({ minimum: 1, maximum: 1000 }), 2),
    maxReplicas: Defaulted(Type.Integer({ minimum: 1, maximum: 1000 }), 10),
    targetConnectionsPerPod: Defaulted(
      Type.Integer({
        minimum: 1,
        maximum: 1_000_000,
        description: 'Autoscaler target of open WebSocket connections per gateway pod.',
      }),
      1000,
    ),
    scaleDownStabilizationSeconds: Defaulted(Type.Integer({ minimum: 0, maximum: 86_400 }), 300),
    resources: res('100m', '128Mi', '512Mi'),
  },
  withRules(gatewayRules),
);

const replicasOf = (description: string) =>
  Defaulted(Type.Integer({ minimum: 0, maximum: 100, description }), 1);

export const EngineSpec = Type.Object({
  replicas: replicasOf('Engine pods.'),
  resources: res('100m', '128Mi', '512Mi'),
});
export const ApiSpec = Type.Object({
  replicas: replicasOf('API pods.'),
  resources: res('100m', '128Mi', '512Mi'),
});

export const SecretKeyRef = Type.Object(
  {
    name: Type.String({ pattern: dnsSubdomainPattern, maxLength: 253 }),
    key: Type.String({ pattern: '^[-._a-zA-Z0-9]+$', maxLength: 253 }),
  },
  { description: 'A key of a Secret in the cluster namespace.' },
);

export const StorageSpec = Type.Object(
  {
    size: Defaulted(Type.String({ pattern: quantityPattern }), '1Gi'),
    storageClassName: Type.Optional(Type.String({ pattern: dnsSubdomainPattern, maxLength: 253 })),
  },
  withRules(storageRules),
);

function managedSpec(defaultVersion: string, imageHelp: string, maxReplicas: number, cel: object) {
  return Type.Object(
    {
      version: Defaulted(
        Type.String({
          pattern: '^[0-9][-.0-9a-z]*$',
          description: `Image tag base (${imageHelp}).`,
        }),
        defaultVersion,
      ),
      image: Type.Optional(
        Type.String({ minLength: 1, description: 'Full image reference; overrides version.' }),
      ),
      replicas: Defaulted(Type.Integer({ minimum: 1, maximum: maxReplicas }), 1),
      storage: Defaulted(StorageSpec, { size: '1Gi' }),
      resources: res('100m', '256Mi', '1Gi'),
    },
    cel,
  );
}

function backingService<M extends TObject>(name: string, managed: M, description: string) {
  return Defaulted(
    Type.Object(
      {
        managed: Type.Optional(managed),
        external: Type.Optional(
          Type.Object(
            { secretRef: SecretKeyRef },
            { description: 'A Secret key holding the connection URL.' },
          ),
        ),
      },
      { description, ...withRules(backingServiceRules(name)) },
    ),
    // Generic M hides that `{}` is a valid managed spec (all its fields are defaulted).
    { managed: {} } as never,
  );
}

export const RabbitmqManaged = managedSpec('3.13', 'rabbitmq:<version>-management', 7, {
  description: 'replicas > 1 forms a RabbitMQ cluster.',
});
export const MongodbManaged = managedSpec('7', 'mongo:<version>', 7, {
  ...withRules(mongodbManagedRules),
});
export const RedisManaged = managedSpec('7', 'redis:<version>', 7, {
  description: 'Pod 0 is the primary; further pods replicate it.',
});

export const GossipClusterSpec = Type.Object({
  version: Defaulted(
    Type.String({
      pattern: '^v?[0-9]+\\.[0-9]+\\.[0-9]+([-+][0-9A-Za-z.-]+)?$',
      description: 'Gossip release; the default image tag.',
    }),
    '0.1.0',
  ),
  image: Defaulted(ImageSpec, {}),
  logLevel: Defaulted(StringEnum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']), 'info'),
  gateway: Defaulted(GatewaySpec, {}),
  engine: Defaulted(EngineSpec, {}),
  api: Defaulted(ApiSpec, {}),
  rabbitmq: backingService('rabbitmq', RabbitmqManaged, 'The message broker.'),
  mongodb: backingService('mongodb', MongodbManaged, 'The message and user store.'),
  redis: backingService('redis', RedisManaged, 'Presence, sessions and rate limits.'),
  retention: Defaulted(
    Type.Object({
      messageSeconds: Defaulted(Type.Integer({ minimum: 60, maximum: 31_536_000 }), 604_800),
    }),
    {},
  ),
  monitoring: Defaulted(
    Type.Object({
      serviceMonitor: Defaulted(
        Type.Boolean({ description: 'Emit a prometheus-operator ServiceMonitor.' }),
        false,
      ),
      prometheusRule: Defaulted(
        Type.Boolean({ description: 'Emit a prometheus-operator PrometheusRule.' }),
        false,
      ),
    }),
    {},
  ),
  paused: Defaulted(Type.Boolean({ description: 'Stop reconciling this cluster.' }), false),
  dataRetentionPolicy: Defaulted(
    StringEnum(['Retain', 'Delete'], {
      description: 'What happens to managed data volumes (PVCs) when the cluster is deleted.',
    }),
    'Retain',
  ),
});

/** The spec as written by a user: every defaulted field optional. */
export type GossipClusterSpec = Static<typeof GossipClusterSpec>;
/** The spec after defaulting (as read back from the API server, or from `applyDefaults`). */
export type ResolvedGossipClusterSpec = Resolved<typeof GossipClusterSpec>;
export type BackingServiceName = 'rabbitmq' | 'mongodb' | 'redis';
export type ManagedSpec = NonNullable<ResolvedGossipClusterSpec[BackingServiceName]['managed']>;

/**
 * The whole custom resource, for offline validation. Only `spec` and `status` go into the CRD
 * as they are; ../crd.ts writes the root itself (the API server owns `metadata`).
 */
export const GossipCluster = Type.Object(
  {
    apiVersion: Type.Literal(apiVersion),
    kind: Type.Literal(kind),
    metadata: Type.Object(
      {
        name: Type.String({ pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' }),
        namespace: Type.Optional(Type.String()),
      },
      { additionalProperties: true },
    ),
    spec: Defaulted(GossipClusterSpec, {}),
    status: Type.Optional(GossipClusterStatus),
  },
  withRules(rootRules),
);

/** A GossipCluster as written (metadata may carry any other Kubernetes fields). */
export interface GossipCluster {
  apiVersion: typeof apiVersion;
  kind: typeof kind;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  spec?: GossipClusterSpec;
  status?: Static<typeof GossipClusterStatus>;
}
