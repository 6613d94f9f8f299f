/**
 * The NetworkPolicies the builders make, server-side applied for real to the test
 * environment's kube-apiserver: it accepts every one, keeps every field (nothing pruned or
 * dropped by the client's serializer), and a second apply changes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { uniqueName } from '@gossip/testenv';
import { buildClusterObjects } from '../../src/build.js';
import { assertContains, createNamespace, fieldManager, kubeClient } from '../kube.js';

const client = kubeClient();
const namespace = uniqueName('netpol');
let cleanup: (() => Promise<void>) | undefined;

const apply = (o: KubernetesObject) =>
  client.patch(o, undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply);

describe('NetworkPolicies on the real API server', () => {
  before(async () => {
    cleanup = await createNamespace(client, namespace);
  });
  after(async () => {
    await cleanup?.();
  });

  it('server-side apply accepts and keeps every policy of a default cluster', async () => {
    // GIVEN
    const policies = buildClusterObjects({
      apiVersion: 'gossip.dev/v1alpha1',
      kind: 'GossipCluster',
      metadata: { name: 'demo', namespace },
      spec: { networkPolicy: { monitoring: { namespaceSelector: { team: 'sre' } } } },
    }).filter((o) => o.kind === 'NetworkPolicy');
    assert.equal(policies.length, 7);
    for (const p of policies) {
      // WHEN
      const applied = await apply(p as KubernetesObject);
      // THEN
      assertContains(applied, p);
      const again = await apply(p as KubernetesObject);
      assert.equal(
        again.metadata?.resourceVersion,
        applied.metadata?.resourceVersion,
        p.metadata.name,
      );
    }
    const read = await client.read({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'demo-gateway', namespace },
    });
    const spec = read as unknown as { spec: { egress: { ports: { port: number }[] }[] } };
    const egressPorts = spec.spec.egress.flatMap((r) => r.ports.map((x) => x.port)).sort();
    assert.deepStrictEqual(
      egressPorts,
      [53, 53, 5672, 6379],
      'gateway egress: DNS, RabbitMQ, Redis',
    );
  });
});
