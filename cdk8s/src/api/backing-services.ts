/**
 * Schemas of the backing services (RabbitMQ, MongoDB, Redis): each is either managed by the
 * operator as a StatefulSet or external, reached through a connection URL in a Secret.
 */
import { Type } from '@sinclair/typebox';
import type { TObject, TOptional, TProperties } from '@sinclair/typebox';
import { backingServiceRules, mongodbManagedRules, storageRules, withRules } from './rules.js';
import { Defaulted, Resources, dnsSubdomainPattern, quantityPattern } from './schema-helpers.js';

/** Container resources with the given defaults (requests cpu/memory, limit memory). */
export const defaultedResources = (cpu: string, memory: string, memoryLimit: string) =>
  Defaulted(Resources, { requests: { cpu, memory }, limits: { memory: memoryLimit } });

/** A key of a Secret in the cluster's namespace. */
export const SecretKeyRef = Type.Object(
  {
    name: Type.String({
      pattern: dnsSubdomainPattern,
      maxLength: 253,
      description: 'Secret name, in the namespace of the GossipCluster.',
    }),
    key: Type.String({
      pattern: '^[-._a-zA-Z0-9]+$',
      maxLength: 253,
      description: 'Key within the Secret.',
    }),
  },
  { description: 'A key of a Secret in the cluster namespace.' },
);

/** The app components that connect to backing services (`AppComponent` of the builders). */
export type StoreUser = 'api' | 'gateway' | 'engine';

/** Which app components use each backing service (and may get their own external URL). */
export const storeUsers = {
  rabbitmq: ['gateway', 'engine'],
  mongodb: ['api', 'engine'],
  redis: ['api', 'gateway', 'engine'],
} as const satisfies Record<string, readonly StoreUser[]>;

/** A backing service's name, as the spec's field. */
export type StoreName = keyof typeof storeUsers;

/** `external.components` of one store: an optional Secret key per component using it. */
function componentRefs<U extends StoreUser>(service: StoreName, users: readonly U[]) {
  const props = Object.fromEntries(
    users.map((u) => [
      u,
      Type.Optional(
        Type.Object(SecretKeyRef.properties, {
          description: `The ${u}'s own ${service} URL (its own user); default: secretRef.`,
        }),
      ),
    ]),
  ) as { [K in U]: TOptional<typeof SecretKeyRef> };
  return Type.Object(props, {
    description:
      'Per-component connection URLs, so that each component can use its own user with only ' +
      'the rights it needs (least privilege). A component not listed uses secretRef.',
  });
}

/** The data volume of each pod of a managed service; immutable once created. */
export const StorageSpec = Type.Object(
  {
    size: Defaulted(
      Type.String({ pattern: quantityPattern, description: 'Volume size per pod, e.g. 10Gi.' }),
      '1Gi',
    ),
    storageClassName: Type.Optional(
      Type.String({
        pattern: dnsSubdomainPattern,
        maxLength: 253,
        description: 'StorageClass of the volumes; the cluster default when unset.',
      }),
    ),
  },
  { description: 'Persistent volume per pod (immutable once set).', ...withRules(storageRules) },
);

function managedSpec<E extends TProperties = Record<never, never>>(
  defaultVersion: string,
  imageHelp: string,
  options: object,
  extra: E = {} as E,
) {
  return Type.Object(
    {
      ...extra,
      version: Defaulted(
        Type.String({
          pattern: '^[0-9][-.0-9a-z]*$',
          description: `Version of the official image, used as ${imageHelp}.`,
        }),
        defaultVersion,
      ),
      image: Type.Optional(
        Type.String({ minLength: 1, description: 'Full image reference; overrides version.' }),
      ),
      replicas: Defaulted(Type.Integer({ minimum: 1, maximum: 7, description: 'Pods.' }), 1),
      storage: Defaulted(StorageSpec, { size: '1Gi' }),
      resources: defaultedResources('100m', '256Mi', '1Gi'),
    },
    options,
  );
}

/** `spec.rabbitmq.managed`: replicas > 1 forms a RabbitMQ cluster (classic-config peers). */
export const RabbitmqManaged = managedSpec(
  '3.13',
  'rabbitmq:VERSION (rabbitmq:VERSION-management with management: true)',
  { description: 'A RabbitMQ run by the operator; replicas > 1 forms a cluster.' },
  {
    management: Defaulted(
      Type.Boolean({
        description:
          'Run the management plugin (HTTP UI and API on port 15672, reached with kubectl port-forward; no NetworkPolicy admits it). Off: one less listener holding admin powers.',
      }),
      false,
    ),
  },
);
/** `spec.mongodb.managed`: a single mongod for now (see `mongodbManagedRules`). */
export const MongodbManaged = managedSpec('7', 'mongo:VERSION', {
  description: 'A MongoDB run by the operator (one replica until replica sets are supported).',
  ...withRules(mongodbManagedRules),
});
/** `spec.redis.managed`: pod 0 is the primary, further pods replicate it. */
export const RedisManaged = managedSpec('7', 'redis:VERSION', {
  description: 'A Redis run by the operator; pod 0 is the primary, further pods replicate it.',
});

/** A backing service field: `managed` xor `external`, defaulting to `{managed: {}}`. */
export function backingService<S extends StoreName, M extends TObject>(
  name: S,
  managed: M,
  description: string,
) {
  return Defaulted(
    Type.Object(
      {
        managed: Type.Optional(managed),
        external: Type.Optional(
          Type.Object(
            {
              secretRef: SecretKeyRef,
              components: Type.Optional(componentRefs(name, storeUsers[name])),
            },
            {
              description:
                'Use an existing server: a Secret key holding its connection URL, and optionally one per component.',
            },
          ),
        ),
      },
      { description, ...withRules(backingServiceRules(name)) },
    ),
    // Generic M hides that `{}` is a valid managed spec (all its fields are defaulted).
    { managed: {} } as never,
  );
}
