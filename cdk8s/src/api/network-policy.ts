/**
 * `spec.networkPolicy`: default-deny NetworkPolicies for every pod of the cluster, with allows
 * for exactly the connections each component makes (see constructs/network-rules.ts). What
 * lives outside the cluster (the Prometheus that scrapes the ops ports, the operator that reads
 * the gateways' connection counts) is matched by label selectors set here.
 */
import { Kind, Type, TypeRegistry } from '@sinclair/typebox';
import type { TUnsafe } from '@sinclair/typebox';
import { Defaulted } from './schema-helpers.js';

TypeRegistry.Set<object>(
  'LabelMap',
  (_schema, value) =>
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === 'string'),
);

/**
 * A `matchLabels` map (label to value), as a structural schema allows it (`additionalProperties`,
 * not TypeBox's `patternProperties` record).
 */
export function LabelMap(description: string): TUnsafe<Record<string, string>> {
  return Type.Unsafe<Record<string, string>>({
    [Kind]: 'LabelMap',
    type: 'object',
    additionalProperties: { type: 'string' },
    description,
  });
}

/** A peer outside the cluster's own pods: pods matching `podSelector` in matching namespaces. */
const Peer = (noun: string, description: string, pods: Record<string, string>) =>
  Type.Object(
    {
      namespaceSelector: Defaulted(
        LabelMap(`matchLabels of the namespaces ${noun} runs in; {} is every namespace.`),
        {},
      ),
      podSelector: Defaulted(LabelMap(`matchLabels of the ${noun} pods.`), pods),
    },
    { description },
  );

/** `spec.networkPolicy`. */
export const NetworkPolicySpec = Type.Object(
  {
    enabled: Defaulted(
      Type.Boolean({
        description:
          'Emit default-deny NetworkPolicies and allow only the connections each component uses.',
      }),
      true,
    ),
    monitoring: Defaulted(
      Peer('Prometheus', 'Where the Prometheus that scrapes the ops ports runs.', {
        'app.kubernetes.io/name': 'prometheus',
      }),
      {},
    ),
    operator: Defaulted(
      Peer('operator', 'Where the Gossip operator runs (its autoscaler reads gateway /metrics).', {
        'app.kubernetes.io/name': 'gossip',
        'app.kubernetes.io/component': 'operator',
      }),
      {},
    ),
  },
  { description: 'NetworkPolicies: deny by default, allow what each component uses.' },
);
