/** Helpers for L1 (`k8s.*`) objects: env from Secrets and the downward API, probes, resources. */
import type { Resources } from '../api/schema-helpers.js';
import * as kplus from 'cdk8s-plus-27';

/** An env var read from a key of a Secret. */
export function fromSecret(name: string, secret: string, key: string): kplus.k8s.EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: secret, key } } };
}

/** An env var holding the pod's own name. */
export function podName(name = 'POD_NAME'): kplus.k8s.EnvVar {
  return { name, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } };
}

/** An exec probe. */
export function execProbe(
  command: string[],
  periodSeconds: number,
  timeoutSeconds = 10,
): kplus.k8s.Probe {
  return { exec: { command }, periodSeconds, timeoutSeconds, failureThreshold: 3 };
}

/** A TCP probe. */
export function tcpProbe(port: number, periodSeconds: number): kplus.k8s.Probe {
  return {
    tcpSocket: { port: kplus.k8s.IntOrString.fromNumber(port) },
    periodSeconds,
    timeoutSeconds: 5,
    failureThreshold: 3,
  };
}

/**
 * Spec resources as L1 `ResourceRequirements` (Quantity objects). Also what a JSON patch on a
 * cdk8s-plus object must carry: the L1 serializer runs after patches and reads `.value`.
 */
export function toKubeResources(resources: Resources): kplus.k8s.ResourceRequirements {
  const quantities = (m?: { cpu?: string; memory?: string }) =>
    m === undefined
      ? undefined
      : Object.fromEntries(
          Object.entries(m).map(([k, v]) => [k, kplus.k8s.Quantity.fromString(v)]),
        );
  return { requests: quantities(resources.requests), limits: quantities(resources.limits) };
}
