/**
 * Cross-field rules of the GossipCluster schema, each written once as CEL: it goes into the
 * CRD (`x-kubernetes-validations`, enforced by the API server), and the offline validator
 * (`validateGossipCluster`, used by `npm run synth` and the operator) evaluates the same
 * text with @bufbuild/cel (./cel.ts), so both refuse the same specs with the same message.
 */

/** One CEL rule as the CRD carries it. */
export interface CrossFieldRule {
  /** CEL expression evaluated with `self` bound to the object it sits on. */
  readonly rule: string;
  /** The message users see when the rule fails; the offline check reports it verbatim. */
  readonly message: string;
}

/** Schema options carrying `rules` as `x-kubernetes-validations` (the CRD and the offline check read them there). */
export function withRules(rules: readonly CrossFieldRule[]): Record<string, unknown> {
  return { 'x-kubernetes-validations': rules.map(({ rule, message }) => ({ rule, message })) };
}

/**
 * Longest cluster name: child names add suffixes such as `-rabbitmq-headless` (18 characters),
 * Service names must stay DNS labels (63) and StatefulSet pods carry a
 * `controller-revision-hash` label of the StatefulSet name plus 11 characters.
 */
export const maxClusterNameLength = 40;

/** Rules on the root object (CEL may read `metadata.name` there). */
export const rootRules: readonly CrossFieldRule[] = [
  {
    rule: `self.metadata.name.size() <= ${maxClusterNameLength}`,
    message: `metadata.name must be at most ${maxClusterNameLength} characters (child object names add suffixes)`,
  },
  {
    // Kubernetes allows dots in custom resource names; Service names may not have them.
    rule: "self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",
    message: 'metadata.name must be a DNS label (a-z, 0-9, -): Service names derive from it',
  },
];

/** Rules on `spec.gateway`. */
export const gatewayRules: readonly CrossFieldRule[] = [
  {
    // has(): the API server also checks the schema's own `default: {}`, before nested defaults.
    rule: '!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas',
    message: 'gateway.minReplicas must be less than or equal to gateway.maxReplicas',
  },
];

/** Rules on each backing service (`spec.rabbitmq`, `spec.mongodb`, `spec.redis`). */
export function backingServiceRules(service: string): readonly CrossFieldRule[] {
  return [
    {
      rule: 'has(self.managed) != has(self.external)',
      message: `${service}: set exactly one of managed or external`,
    },
  ];
}

/**
 * Rules on a managed backing service's `storage`. StatefulSet volume claim templates are
 * immutable, so a changed size or class could never be rolled out; refuse it up front.
 */
export const storageRules: readonly CrossFieldRule[] = [
  {
    rule: 'self == oldSelf',
    message:
      'storage cannot be changed once set (StatefulSet volume claim templates are immutable)',
  },
];

/**
 * Rules on `spec.mongodb.managed`. A MongoDB replica set needs `rs.initiate` and member
 * management that the operator does not do yet; the field exists so that allowing it later
 * is a relaxation, not a breaking change.
 */
export const mongodbManagedRules: readonly CrossFieldRule[] = [
  {
    rule: '!has(self.replicas) || self.replicas == 1',
    message: 'mongodb.managed.replicas > 1 (a replica set) is not supported yet',
  },
];
