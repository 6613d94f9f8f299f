/** The GossipCluster status: written by the operator through the status subresource. */
import { FormatRegistry, Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { StringEnum } from './schema-helpers.js';

// TypeBox checks no format it does not know; status timestamps are RFC 3339.
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set('date-time', (v) =>
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(v),
  );
}

/** The Kubernetes `metav1.Condition` shape. */
export const Condition = Type.Object({
  type: Type.String({
    maxLength: 316,
    pattern:
      '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
  }),
  status: StringEnum(['True', 'False', 'Unknown']),
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
  lastTransitionTime: Type.String({ format: 'date-time' }),
  reason: Type.String({
    minLength: 1,
    maxLength: 1024,
    pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
  }),
  message: Type.String({ maxLength: 32768 }),
});
export type Condition = Static<typeof Condition>;

/** Replica counts of one component's Deployment or StatefulSet. */
export const ComponentStatus = Type.Object({
  replicas: Type.Optional(Type.Integer({ minimum: 0 })),
  readyReplicas: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type ComponentStatus = Static<typeof ComponentStatus>;

/** The gateway autoscaler's last view and decision. */
export const AutoscalerStatus = Type.Object({
  currentReplicas: Type.Optional(Type.Integer({ minimum: 0 })),
  desiredReplicas: Type.Optional(Type.Integer({ minimum: 0 })),
  connections: Type.Optional(
    Type.Integer({ minimum: 0, description: 'Open WebSocket connections over all gateways.' }),
  ),
  lastScaleTime: Type.Optional(Type.String({ format: 'date-time' })),
  lastScaleReason: Type.Optional(Type.String({ maxLength: 1024 })),
});
export type AutoscalerStatus = Static<typeof AutoscalerStatus>;

export const GossipClusterStatus = Type.Object({
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
  conditions: Type.Optional(
    Type.Array(Condition, {
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
      maxItems: 32,
    }),
  ),
  components: Type.Optional(
    Type.Object({
      api: Type.Optional(ComponentStatus),
      gateway: Type.Optional(ComponentStatus),
      engine: Type.Optional(ComponentStatus),
      rabbitmq: Type.Optional(ComponentStatus),
      mongodb: Type.Optional(ComponentStatus),
      redis: Type.Optional(ComponentStatus),
    }),
  ),
  autoscaler: Type.Optional(AutoscalerStatus),
  endpoints: Type.Optional(
    Type.Object({
      api: Type.Optional(Type.String({ description: 'HTTP base URL of the API Service.' })),
      gateway: Type.Optional(Type.String({ description: 'WebSocket URL of the gateway Service.' })),
    }),
  ),
});
export type GossipClusterStatus = Static<typeof GossipClusterStatus>;
