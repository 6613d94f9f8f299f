/** {@link LeaseClient} over the coordination.k8s.io/v1 API for one named Lease. */
import { CoordinationV1Api, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { isNotFound } from '../kube/errors.js';
import type { LeaseClient } from './lease.js';

export function kubeLeaseClient(kc: KubeConfig, namespace: string, name: string): LeaseClient {
  const api = kc.makeApiClient(CoordinationV1Api);
  const withName = (lease: V1Lease): V1Lease => ({
    ...lease,
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { ...lease.metadata, name, namespace },
  });
  return {
    async get() {
      try {
        return await api.readNamespacedLease({ name, namespace });
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async create(lease) {
      await api.createNamespacedLease({ namespace, body: withName(lease) });
    },
    async replace(lease) {
      await api.replaceNamespacedLease({ name, namespace, body: withName(lease) });
    },
  };
}
