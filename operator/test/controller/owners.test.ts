import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubernetesObject } from '@kubernetes/client-node';
import { ownerKeys } from '../../src/controller/owners.js';
import { pauseReason } from '../../src/controller/pause.js';

const cluster = (name: string, spec: object = {}) =>
  ({
    apiVersion: 'gossip.dev/v1alpha1',
    kind: 'GossipCluster',
    metadata: { name, namespace: 'ns' },
    spec,
  }) as KubernetesObject;

test('an owned object maps to its controller owner', () => {
  const d: KubernetesObject = {
    kind: 'Deployment',
    metadata: {
      name: 'chat-api',
      namespace: 'ns',
      ownerReferences: [
        {
          apiVersion: 'gossip.dev/v1alpha1',
          kind: 'GossipCluster',
          name: 'chat',
          uid: 'u',
          controller: true,
        },
      ],
    },
  };
  assert.deepEqual(ownerKeys(d), ['ns/chat']);
});

test('a non-controller reference or a foreign owner is ignored', () => {
  const d: KubernetesObject = {
    kind: 'Deployment',
    metadata: {
      name: 'x',
      namespace: 'ns',
      ownerReferences: [
        { apiVersion: 'gossip.dev/v1alpha1', kind: 'GossipCluster', name: 'chat', uid: 'u' },
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'v', controller: true },
      ],
    },
  };
  assert.deepEqual(ownerKeys(d), []);
});

test('an unowned object the operator labelled maps through its labels', () => {
  const s: KubernetesObject = {
    kind: 'Secret',
    metadata: {
      name: 'chat-mongodb',
      namespace: 'ns',
      labels: {
        'app.kubernetes.io/instance': 'chat',
        'app.kubernetes.io/managed-by': 'gossip-operator',
      },
    },
  };
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
