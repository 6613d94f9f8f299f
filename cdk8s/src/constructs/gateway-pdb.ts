/** Limits voluntary evictions of gateways so a node drain cannot drop every connection at once. */
import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';
import type { ClusterContext } from './context.js';
import { labelsFor, namesFor, selectorFor } from './naming.js';

export interface GatewayDisruptionBudgetProps {
  /** The cluster whose gateways are protected. */
  readonly cluster: ClusterContext;
  /**
   * Gateways that may be down for voluntary disruptions at once. One at a time lets each
   * draining gateway hand its clients to the others; `minAvailable` would block drains of a
   * one-replica cluster.
   * @default 1
   */
  readonly maxUnavailable?: number;
}

/** A PodDisruptionBudget over the gateway pods (cdk8s-plus has no PDB; this is the L1 object). */
export class GatewayDisruptionBudget extends Construct {
  constructor(scope: Construct, id: string, props: GatewayDisruptionBudgetProps) {
    super(scope, id);
    const { cluster } = props;
    const maxUnavailable = props.maxUnavailable ?? 1;
    if (!Number.isInteger(maxUnavailable) || maxUnavailable < 1) {
      throw new Error(`'maxUnavailable' (${maxUnavailable}) must be an integer >= 1`);
    }
    new kplus.k8s.KubePodDisruptionBudget(this, 'Resource', {
      metadata: {
        name: namesFor(cluster.name).gatewayPdb,
        labels: labelsFor(cluster.name, 'gateway'),
      },
      spec: {
        maxUnavailable: kplus.k8s.IntOrString.fromNumber(maxUnavailable),
        selector: { matchLabels: selectorFor(cluster.name, 'gateway') },
      },
    });
  }
}
