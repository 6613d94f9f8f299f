/**
 * Turns the GossipCluster TypeBox schema into its CustomResourceDefinition. The schema must be
 * structural: TypeBox-only keys (`$id`, symbol keys such as `[Kind]`) are dropped, and any key
 * the apiextensions API does not know makes generation fail instead of a broken CRD.
 */
import type { TSchema } from '@sinclair/typebox';
import { rootRules, withRules } from './api/rules.js';
import { GossipClusterStatus } from './api/status.js';
import { GossipClusterSpec, group, kind, plural, singular, version } from './api/v1alpha1.js';

/** JSONSchemaProps keys a CRD schema may carry (besides every `x-kubernetes-*`). */
const allowedKeys = new Set([
  'type',
  'format',
  'title',
  'description',
  'properties',
  'required',
  'items',
  'enum',
  'default',
  'nullable',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minProperties',
  'maxProperties',
  'additionalProperties',
  'example',
]);
/** TypeBox bookkeeping that means nothing to Kubernetes. */
const droppedKeys = new Set(['$id', '$schema']);

/**
 * A plain-JSON copy of a TypeBox schema fit for `openAPIV3Schema`.
 * @throws Error naming the path of a key a structural schema cannot hold (`const`, `anyOf` of
 * literals, `patternProperties`, `$ref`...).
 */
export function toStructuralSchema(schema: TSchema, path = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  // Object.entries skips symbol keys, which is how `[Kind]`, `[OptionalKind]` and our rules go.
  for (const [key, value] of Object.entries(schema)) {
    if (droppedKeys.has(key)) continue;
    if (!allowedKeys.has(key) && !key.startsWith('x-kubernetes-')) {
      throw new Error(`schema key '${key}' at '${path || '/'}' is not allowed in a CRD schema`);
    }
    if (key === 'properties') {
      const props: Record<string, unknown> = {};
      for (const [name, child] of Object.entries(value as Record<string, TSchema>)) {
        props[name] = toStructuralSchema(child, `${path}.${name}`);
      }
      out[key] = props;
    } else if ((key === 'items' || key === 'additionalProperties') && typeof value === 'object') {
      out[key] = toStructuralSchema(value as TSchema, `${path}[]`);
    } else {
      out[key] = structuredClone(value) as unknown;
    }
  }
  if (out.type === undefined && out['x-kubernetes-int-or-string'] === undefined) {
    throw new Error(`schema at '${path || '/'}' has no type (a structural schema needs one)`);
  }
  return out;
}

/** The printer columns of `kubectl get gossipclusters`. */
export const printerColumns = [
  { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
  { name: 'Gateways', type: 'integer', jsonPath: '.status.autoscaler.currentReplicas' },
  { name: 'Connections', type: 'integer', jsonPath: '.status.autoscaler.connections' },
  {
    name: 'Reason',
    type: 'string',
    priority: 1,
    jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
  },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
];

/** The GossipCluster CustomResourceDefinition as a plain object. */
export function gossipClusterCrd(): Record<string, unknown> {
  const { 'x-kubernetes-validations': rootCel } = withRules(rootRules);
  const openAPIV3Schema = {
    type: 'object',
    description: 'A Gossip chat backend: api, gateways, engines and their backing services.',
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec: toStructuralSchema(GossipClusterSpec, '.spec'),
      status: toStructuralSchema(GossipClusterStatus, '.status'),
    },
    'x-kubernetes-validations': rootCel,
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${plural}.${group}`,
      labels: { 'app.kubernetes.io/name': 'gossip', 'app.kubernetes.io/component': 'crd' },
    },
    spec: {
      group,
      scope: 'Namespaced',
      names: {
        kind,
        listKind: `${kind}List`,
        plural,
        singular,
        shortNames: ['gsc'],
        categories: ['gossip'],
      },
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: printerColumns,
          schema: { openAPIV3Schema },
        },
      ],
    },
  };
}
