/** Reads replica counts per component out of applied Deployments and StatefulSets. */
import type { KubernetesObject, V1Deployment, V1StatefulSet } from '@kubernetes/client-node';
import type { ComponentName, WorkloadObservation } from './status.js';

const components: readonly ComponentName[] = [
  'api',
  'gateway',
  'engine',
  'rabbitmq',
  'mongodb',
  'redis',
];

export function observeWorkloads(objects: readonly KubernetesObject[]): WorkloadObservation[] {
  const out: WorkloadObservation[] = [];
  for (const o of objects) {
    if (o.kind !== 'Deployment' && o.kind !== 'StatefulSet') continue;
    const w = o as V1Deployment | V1StatefulSet;
    const component = w.metadata?.labels?.['app.kubernetes.io/component'] as ComponentName;
    if (!components.includes(component)) continue;
    out.push({
      component,
      desired: w.spec?.replicas ?? 1,
      generation: w.metadata?.generation,
      observedGeneration: w.status?.observedGeneration,
      replicas: w.status?.replicas,
      readyReplicas: w.status?.readyReplicas,
      updatedReplicas: w.status?.updatedReplicas,
    });
  }
  return out;
}
