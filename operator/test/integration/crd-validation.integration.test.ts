/**
 * The CRD's own validation, against the real kube-apiserver: specs the schema or a CEL rule
 * refuses are rejected at the API with a readable message, before any operator sees them.
 * (Moved out of reconcile.integration.test.ts: it needs no operator.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyCrd, custom, gc, testNamespace, waitFor } from './kube-helpers.js';

const ns = testNamespace('op-crd');

test('invalid specs are rejected by the API server with a readable message', async () => {
  // Other suites re-apply the shared CRD; apply ours again and allow the API server a
  // moment to pick up its validation rules before calling an accepted object a failure.
  await applyCrd();
  const attempt = (bad: object) =>
    waitFor(
      `rejection of ${JSON.stringify(bad)}`,
      async () => {
        const body = {
          apiVersion: 'gossip.dev/v1alpha1',
          kind: 'GossipCluster',
          metadata: { name: 'bad' },
          spec: bad,
        };
        try {
          await custom.createNamespacedCustomObject({ ...gc, namespace: ns, body, dryRun: 'All' });
          return undefined;
        } catch (err) {
          const e = err as { code?: number; body?: string };
          assert.equal(e.code, 422);
          return String((JSON.parse(e.body ?? '{}') as { message?: string }).message);
        }
      },
      10_000,
    );
  assert.match(await attempt({ api: { replicas: -1 } }), /spec\.api\.replicas/);
  assert.match(await attempt({ gateway: { minReplicas: 5, maxReplicas: 2 } }), /minReplicas/i);
  assert.match(
    await attempt({ redis: { managed: {}, external: { secretRef: { name: 's', key: 'url' } } } }),
    /redis|managed|external/i,
  );
});
