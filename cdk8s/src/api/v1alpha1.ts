/**
 * The GossipCluster API (gossip.dev/v1alpha1): one TypeBox schema is the source of truth for
 * the CRD (see ../crd.ts), the offline validation of `npm run synth` and the TypeScript types
 * the constructs and the operator use.
 */
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import {
  MongodbManaged,
  RabbitmqManaged,
  RedisManaged,
  backingService,
  defaultedResources,
} from './backing-services.js';
import { AttachmentsSpec } from './attachments.js';
import { IngressSpec } from './ingress.js';
import { NetworkPolicySpec } from './network-policy.js';
import { gatewayRules, rootRules, withRules } from './rules.js';
import { TrustProxySpec } from './trust-proxy.js';
import { Defaulted, StringEnum } from './schema-helpers.js';
import type { Resolved } from './schema-helpers.js';
import { GossipClusterStatus } from './status.js';

/** API group of the GossipCluster CRD. */
export const group = 'gossip.dev';
/** The one served and stored version. */
export const version = 'v1alpha1';
/** `gossip.dev/v1alpha1` */
export const apiVersion = `${group}/${version}`;
export const kind = 'GossipCluster';
/** Resource name in URLs (`/apis/gossip.dev/v1alpha1/namespaces/x/gossipclusters`). */
export const plural = 'gossipclusters';
export const singular = 'gossipcluster';

const res = defaultedResources;

/** `spec.image`: where the api, gateway and engine images come from. */
export const ImageSpec = Type.Object(
  {
    registry: Defaulted(
      Type.String({ minLength: 1, description: 'Image registry host.' }),
      'ghcr.io',
    ),
    repository: Defaulted(
      Type.String({ minLength: 1, description: 'Repository path under the registry.' }),
      'gossip',
    ),
    tag: Type.Optional(Type.String({ minLength: 1, description: 'Defaults to spec.version.' })),
    pullPolicy: Defaulted(
      StringEnum(['Always', 'IfNotPresent', 'Never'], {
        description: 'imagePullPolicy of the pods.',
      }),
      'IfNotPresent',
    ),
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
  { description: 'Images are registry/repository/component:tag unless overridden per component.' },
);

/** `spec.gateway`: the autoscaled WebSocket gateways. */
export const GatewaySpec = Type.Object(
  {
    minReplicas: Defaulted(
      Type.Integer({
        minimum: 1,
        maximum: 1000,
        description: 'Fewest gateways the autoscaler keeps.',
      }),
      2,
    ),
    maxReplicas: Defaulted(
      Type.Integer({
        minimum: 1,
        maximum: 1000,
        description: 'Most gateways the autoscaler runs.',
      }),
      10,
    ),
    targetConnectionsPerPod: Defaulted(
      Type.Integer({
        minimum: 1,
        maximum: 1_000_000,
        description: 'Autoscaler target of open WebSocket connections per gateway pod.',
      }),
      1000,
    ),
    scaleDownStabilizationSeconds: Defaulted(
      Type.Integer({
        minimum: 0,
        maximum: 86_400,
        description: 'How long lower connection counts must last before gateways are removed.',
      }),
      300,
    ),
    resources: res('100m', '128Mi', '512Mi'),
  },
  { description: 'The WebSocket gateways, autoscaled on connections.', ...withRules(gatewayRules) },
);

const replicasOf = (description: string) =>
  Defaulted(Type.Integer({ minimum: 0, maximum: 100, description }), 1);

/** `spec.engine`: message processing workers. */
export const EngineSpec = Type.Object(
  { replicas: replicasOf('Engine pods.'), resources: res('100m', '128Mi', '512Mi') },
  { description: 'The engines: store, fan out and expire messages.' },
);
/** `spec.api`: the REST API. */
export const ApiSpec = Type.Object(
  { replicas: replicasOf('API pods.'), resources: res('100m', '128Mi', '512Mi') },
  { description: 'The REST API: accounts, keys, history.' },
);

/** `spec` of a GossipCluster: everything has a default, so `spec: {}` is a working cluster. */
export const GossipClusterSpec = Type.Object({
  version: Defaulted(
    Type.String({
      pattern: '^v?[0-9]+\\.[0-9]+\\.[0-9]+([-+][0-9A-Za-z.-]+)?$',
      description: 'Gossip release; the default image tag.',
    }),
    '0.1.0',
  ),
  image: Defaulted(ImageSpec, {}),
  logLevel: Defaulted(
    StringEnum(['fatal', 'error', 'warn', 'info', 'debug', 'trace'], {
      description: 'pino log level of api, gateway and engine.',
    }),
    'info',
  ),
  gateway: Defaulted(GatewaySpec, {}),
  engine: Defaulted(EngineSpec, {}),
  api: Defaulted(ApiSpec, {}),
  rabbitmq: backingService('rabbitmq', RabbitmqManaged, 'The message broker.'),
  mongodb: backingService('mongodb', MongodbManaged, 'The message and user store.'),
  redis: backingService('redis', RedisManaged, 'Presence, sessions and rate limits.'),
  retention: Defaulted(
    Type.Object(
      {
        messageSeconds: Defaulted(
          Type.Integer({
            minimum: 60,
            maximum: 31_536_000,
            description: 'Undelivered messages expire after this long (ENGINE_RETENTION_SECONDS).',
          }),
          604_800,
        ),
        contactEventSeconds: Defaulted(
          Type.Integer({
            minimum: 60,
            maximum: 31_536_000,
            description:
              'Unacked contact events expire after this long (ENGINE_EVENT_RETENTION_SECONDS).',
          }),
          2_592_000,
        ),
        receiptSeconds: Defaulted(
          Type.Integer({
            minimum: 60,
            maximum: 31_536_000,
            description:
              'Receipts never fetched by their sender expire after this long ' +
              '(ENGINE_RECEIPT_RETENTION_SECONDS).',
          }),
          604_800,
        ),
      },
      { description: 'How long undelivered messages, contact events and receipts are kept.' },
    ),
    {},
  ),
  attachments: Defaulted(AttachmentsSpec, {}),
  monitoring: Defaulted(
    Type.Object(
      {
        serviceMonitor: Defaulted(
          Type.Boolean({
            description:
              "Emit a prometheus-operator ServiceMonitor (the chart's PodMonitor endpoints and labels, for this cluster); leave off when the chart's PodMonitor is on.",
          }),
          false,
        ),
        prometheusRule: Defaulted(
          Type.Boolean({
            description:
              "Emit a prometheus-operator PrometheusRule (the chart's alerts, narrowed to this cluster); leave off when the chart's PrometheusRule is on.",
          }),
          false,
        ),
      },
      { description: 'Monitoring objects (need the prometheus-operator CRDs).' },
    ),
    {},
  ),
  networkPolicy: Defaulted(NetworkPolicySpec, {}),
  ingress: Type.Optional(IngressSpec),
  trustProxy: Defaulted(TrustProxySpec, {}),
  paused: Defaulted(
    Type.Boolean({
      description: 'Stop reconciling: the operator changes nothing until this is false again.',
    }),
    false,
  ),
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
/** The backing services a cluster needs. */
export type BackingServiceName = 'rabbitmq' | 'mongodb' | 'redis';
/** A defaulted `spec.<service>.managed`. */
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
        name: Type.String({ minLength: 1 }),
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
