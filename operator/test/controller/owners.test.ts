import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubernetesObject, V1ObjectMeta } from '@kubernetes/client-node';
import { apiVersion, kind } from '@gossip/cdk8s';
import { ownerKeys } from '../../src/controller/owners.js';
import { pauseReason } from '../../src/controller/pause.js';

const cluster = (name: string, spec: object = {}) =>
  ({
    apiVersion,
    kind,
    metadata: { name, namespace: 'ns' },
    spec,
  }) as KubernetesObject;

/** A `kind` named `name` in namespace `ns`, with more `metadata`. */
const inNs = (k: string, name: string, metadata: V1ObjectMeta): KubernetesObject => ({
  kind: k,
  metadata: { name, namespace: 'ns', ...metadata },
});

test('an owned object maps to its controller owner', () => {
  const d = inNs('Deployment', 'chat-api', {
    ownerReferences: [{ apiVersion, kind, name: 'chat', uid: 'u', controller: true }],
  });
  assert.deepEqual(ownerKeys(d), ['ns/chat']);
});

test('a non-controller reference or a foreign owner is ignored', () => {
  const d = inNs('Deployment', 'x', {
    ownerReferences: [
      { apiVersion, kind, name: 'chat', uid: 'u' },
      { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'v', controller: true },
    ],
  });
  assert.deepEqual(ownerKeys(d), []);
});

test('an unowned object the operator labelled maps through its labels', () => {
  const s = inNs('Secret', 'chat-mongodb', {
    labels: {
      'app.kubernetes.io/instance': 'chat',
      'app.kubernetes.io/managed-by': 'gossip-operator',
    },
  });
  assert.deepEqual(ownerKeys(s), ['ns/chat']);
});

test('pause: spec.paused or the annotation, nothing else', () => {
  assert.equal(pauseReason(cluster('a') as never), undefined);
  assert.match(pauseReason(cluster('a', { paused: true }) as never) ?? '', /spec\.paused/);
  const annotated = cluster('a');
  annotated.metadata!.annotations = { 'gossip.dev/pause-reconciliation': 'true' };
  assert.match(pauseReason(annotated as never) ?? '', /annotation/);
  annotated.metadata!.annotations = { 'gossip.dev/pause-reconciliation': 'false' };
  assert.equal(pauseReason(annotated as never), undefined);
});
