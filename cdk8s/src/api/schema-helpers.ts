/**
 * Small TypeBox helpers for a Kubernetes structural schema: fields with a server-side default,
 * and a `Resolved<T>` type in which those fields are known to be present (the shape the API
 * server returns, and the shape `applyDefaults` produces).
 */
import { CloneType, Kind, Type, TypeRegistry } from '@sinclair/typebox';
import type {
  Evaluate,
  Static,
  TArray,
  TObject,
  TOptional,
  TSchema,
  TUnsafe,
} from '@sinclair/typebox';

declare const DefaultedBrand: unique symbol;

/** An optional field carrying a `default:`; the brand exists only in the type system. */
export type TDefaulted<T extends TSchema> = TOptional<T> & { readonly [DefaultedBrand]: true };

/** A copy of `schema`, optional, with a default that the API server (and `applyDefaults`) fills in. */
export function Defaulted<T extends TSchema>(schema: T, value: Static<T>): TDefaulted<T> {
  return Type.Optional(CloneType(schema, { default: value })) as TDefaulted<T>;
}

type IsPresent<S> = S extends { readonly [DefaultedBrand]: true }
  ? true
  : S extends TOptional<TSchema>
    ? false
    : true;

type PresentKeys<P> = { [K in keyof P]: IsPresent<P[K]> extends true ? K : never }[keyof P];

/** `Static<T>` with every defaulted field required (after defaulting it is always there). */
export type Resolved<T> =
  T extends TObject<infer P>
    ? Evaluate<
        { [K in PresentKeys<P>]: Resolved<P[K]> } & {
          [K in Exclude<keyof P, PresentKeys<P>>]?: Resolved<P[K]>;
        }
      >
    : T extends TArray<infer I>
      ? Resolved<I>[]
      : T extends TSchema
        ? Static<T>
        : never;

TypeRegistry.Set<{ enum: string[] }>(
  'StringEnum',
  (schema, value) => typeof value === 'string' && schema.enum.includes(value),
);

/**
 * A string enum as Kubernetes wants it (`type: string` + `enum`), not TypeBox's union of
 * `const` schemas, which a structural schema does not allow.
 */
export function StringEnum<const T extends readonly string[]>(
  values: T,
  options: { description?: string } = {},
): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({
    [Kind]: 'StringEnum',
    type: 'string',
    enum: [...values],
    ...options,
  });
}

/** A Kubernetes resource quantity (`500m`, `1.5`, `256Mi`, `1e3`), as the apimachinery regex. */
export const quantityPattern =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

/** A DNS-1123 subdomain: the names of Secrets, ConfigMaps and storage classes. */
export const dnsSubdomainPattern =
  '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

const Quantity = (description: string) =>
  Type.Optional(Type.String({ pattern: quantityPattern, description }));

const CpuMemory = (what: string) =>
  Type.Object({
    cpu: Quantity(`CPU ${what}, e.g. "250m".`),
    memory: Quantity(`Memory ${what}, e.g. "256Mi".`),
  });

/** Container resources, as a `resources:` block of a container (CPU and memory only). */
export const Resources = Type.Object(
  {
    requests: Type.Optional(CpuMemory('request')),
    limits: Type.Optional(CpuMemory('limit')),
  },
  { description: 'CPU and memory requests and limits of each container.' },
);
export type Resources = Static<typeof Resources>;
