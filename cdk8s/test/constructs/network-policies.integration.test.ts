/**
 * The NetworkPolicies (and the optional Ingress) the builders make, server-side applied for
 * real to the test environment's kube-apiserver with kubectl (the JSON exactly as built: the
 * client library's model serializer would drop a rule's `from`, which turns "only these
 * peers" into "anyone"), then read back: the server keeps every field, and a second apply
 * changes nothing. The operator applies the same way (operator/src/kube/apply-api.ts).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { testEnv, uniqueName } from '@gossip/testenv';
import type { GossipClusterSpec } from '../../src/api/v1alpha1.js';
import { buildClusterObjects } from '../../src/build.js';
import type { KubeObject } from '../../src/constructs/kube-object.js';
import { assertContains, fieldManager } from '../kube.js';

const env = testEnv();
const namespace = uniqueName('netpol');
const scratch = join(env.dir, 'scratch', namespace);

function kubectl(...args: string[]): string {
  return execFileSync(env.bin.kubectl, ['--kubeconfig', env.kubeconfig, ...args], {
    encoding: 'utf8',
  });
}

/** Server-side applies `objects` from a file; returns each as the server then stores it. */
function apply(objects: KubeObject[], file: string): KubeObject[] {
  writeFileSync(
    join(scratch, file),
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
  );
  kubectl('apply', '--server-side', `--field-manager=${fieldManager}`, '-f', join(scratch, file));
  return objects.map(
    (o) =>
      JSON.parse(
        kubectl('get', '-n', namespace, o.kind, o.metadata.name, '-o', 'json'),
      ) as KubeObject,
  );
}

const objectsOf = (spec: GossipClusterSpec, kind: string) =>
  buildClusterObjects({
    apiVersion: 'gossip.dev/v1alpha1',
    kind: 'GossipCluster',
    metadata: { name: 'demo', namespace },
    spec,
  }).filter((o) => o.kind === kind);

describe('NetworkPolicies and Ingress on the real API server', () => {
  before(() => {
    mkdirSync(scratch, { recursive: true });
    kubectl('create', 'namespace', namespace);
  });
  after(() => {
    kubectl('delete', 'namespace', namespace, '--wait=false');
  });

  it('server-side apply accepts and keeps every policy of a default cluster', () => {
    // GIVEN
    const policies = objectsOf(
      { networkPolicy: { monitoring: { namespaceSelector: { team: 'sre' } } } },
      'NetworkPolicy',
    );
    assert.equal(policies.length, 7);
    // WHEN
    const stored = apply(policies, 'policies.json');
    // THEN
    policies.forEach((p, i) => assertContains(stored[i], p));
    const again = apply(policies, 'policies.json');
    assert.deepStrictEqual(
      again.map((o) => o.metadata.resourceVersion),
      stored.map((o) => o.metadata.resourceVersion),
      'a second apply changes nothing',
    );
    const gateway = stored.find((o) => o.metadata.name === 'demo-gateway') as unknown as {
      spec: { egress: { ports: { port: number }[] }[] };
    };
    const egressPorts = gateway.spec.egress.flatMap((r) => r.ports.map((x) => x.port)).sort();
    assert.deepStrictEqual(
      egressPorts,
      [53, 53, 5672, 6379],
      'gateway egress: DNS, RabbitMQ, Redis',
    );
  });

  it('server-side apply accepts the Ingress of spec.ingress, TLS included', () => {
    const ingresses = objectsOf(
      { ingress: { host: 'chat.example.com', tlsSecretName: 'chat-tls' } },
      'Ingress',
    );
    assert.equal(ingresses.length, 1);
    const [stored] = apply(ingresses, 'ingress.json');
    assertContains(stored, ingresses[0]);
  });
});
