/**
 * Default-deny NetworkPolicies of one cluster: one that selects every pod of the cluster and
 * allows nothing (so a pod no other policy names is isolated too), and one per component that
 * allows exactly its rules from network-rules.ts. Policies add up, so a pod may do what its
 * component's policy allows and nothing else.
 *
 * Kubelet probes come from the node and are not subject to NetworkPolicy on the common CNIs.
 */
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import type { ClusterContext } from './context.js';
import type { Component } from './naming.js';
import { labelsFor, namesFor, selectorFor } from './naming.js';
import type { PolicyRule } from './network-rules.js';
import { networkRules } from './network-rules.js';

export interface GossipNetworkPoliciesProps {
  /** The cluster whose pods are confined; `spec.networkPolicy.enabled` must be true. */
  readonly cluster: ClusterContext;
}

const NETWORK_POLICY = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' } as const;

function rule(r: PolicyRule, side: 'from' | 'to'): Record<string, unknown> {
  return r.peers ? { [side]: r.peers, ports: r.ports } : { ports: r.ports };
}

export class GossipNetworkPolicies extends Construct {
  constructor(scope: Construct, id: string, props: GossipNetworkPoliciesProps) {
    super(scope, id);
    const { cluster } = props;
    if (!cluster.spec.networkPolicy.enabled) {
      throw new Error(
        'GossipNetworkPolicies needs spec.networkPolicy.enabled: true (leave it out otherwise)',
      );
    }
    const names = namesFor(cluster.name);
    const { 'app.kubernetes.io/component': _c, ...clusterLabels } = labelsFor(cluster.name, 'api');
    new ApiObject(this, 'DefaultDeny', {
      ...NETWORK_POLICY,
      metadata: { name: names.defaultDenyPolicy, labels: clusterLabels },
      spec: {
        // With managed-by: the chart labels the operator's own pods name=gossip and
        // instance=<release>, which may equal a cluster's name in the same namespace.
        podSelector: { matchLabels: clusterLabels },
        policyTypes: ['Ingress', 'Egress'],
      },
    });
    for (const [component, rules] of Object.entries(networkRules(cluster))) {
      const c = component as Component;
      new ApiObject(this, `Allow-${c}`, {
        ...NETWORK_POLICY,
        metadata: { name: names.networkPolicy(c), labels: labelsFor(cluster.name, c) },
        spec: {
          podSelector: { matchLabels: selectorFor(cluster.name, c) },
          policyTypes: ['Ingress', 'Egress'],
          ingress: rules.ingress.map((r) => rule(r, 'from')),
          egress: rules.egress.map((r) => rule(r, 'to')),
        },
      });
    }
  }
}
