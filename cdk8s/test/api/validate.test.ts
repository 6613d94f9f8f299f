import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  InvalidGossipClusterError,
  applyDefaults,
  validateGossipCluster,
} from '../../src/api/validate.js';
import { cluster } from '../fixtures.js';

function problemsOf(input: unknown): readonly string[] {
  try {
    validateGossipCluster(input);
  } catch (err) {
    assert.ok(err instanceof InvalidGossipClusterError, String(err));
    return err.problems;
  }
  assert.fail('expected the cluster to be rejected');
}

describe('GossipCluster defaults', () => {
  it('fills every defaulted field of an empty spec, like the API server', () => {
    // GIVEN a cluster without spec  WHEN defaulted
    const { spec } = applyDefaults({ ...cluster(), spec: undefined });
    // THEN
    assert.deepStrictEqual(spec.gateway, {
      minReplicas: 2,
      maxReplicas: 10,
      targetConnectionsPerPod: 1000,
      scaleDownStabilizationSeconds: 300,
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
    });
    assert.deepStrictEqual(spec.redis.managed?.storage, { size: '1Gi' });
    assert.equal(spec.mongodb.managed?.replicas, 1);
    assert.equal(spec.retention.messageSeconds, 604800);
    assert.equal(spec.retention.contactEventSeconds, 2592000);
    assert.equal(spec.retention.receiptSeconds, 604800);
    assert.equal(spec.dataRetentionPolicy, 'Retain');
    assert.equal(spec.paused, false);
    assert.deepStrictEqual(spec.monitoring, { serviceMonitor: false, prometheusRule: false });
  });

  it('defaults an absent field only: an external service gets no managed block', () => {
    const external = { secretRef: { name: 'mongo', key: 'url' } };
    const { spec } = applyDefaults(cluster({ mongodb: { external }, gateway: { maxReplicas: 3 } }));
    assert.deepStrictEqual(spec.mongodb, { external });
    assert.equal(spec.gateway.minReplicas, 2);
    assert.equal(spec.gateway.maxReplicas, 3);
  });

  it('does not modify its input', () => {
    const input = cluster({});
    applyDefaults(input);
    assert.deepStrictEqual(input.spec, {});
  });
});

describe('GossipCluster validation', () => {
  it('accepts the defaults', () => {
    assert.equal(validateGossipCluster(cluster()).spec.api.replicas, 1);
  });

  it('rejects gateway.minReplicas > maxReplicas with the CEL message', () => {
    assert.deepStrictEqual(problemsOf(cluster({ gateway: { minReplicas: 5, maxReplicas: 2 } })), [
      'spec.gateway: gateway.minReplicas must be less than or equal to gateway.maxReplicas',
    ]);
  });

  it('rejects managed and external both set, and neither set', () => {
    const both = { managed: {}, external: { secretRef: { name: 'r', key: 'url' } } };
    assert.deepStrictEqual(problemsOf(cluster({ redis: both })), [
      'spec.redis: redis: set exactly one of managed or external',
    ]);
    assert.deepStrictEqual(problemsOf(cluster({ rabbitmq: {} })), [
      'spec.rabbitmq: rabbitmq: set exactly one of managed or external',
    ]);
  });

  it('names the field and the allowed values of a bad enum', () => {
    assert.deepStrictEqual(problemsOf(cluster({ dataRetentionPolicy: 'Keep' as 'Retain' })), [
      'spec.dataRetentionPolicy: must be one of Retain, Delete',
    ]);
  });

  it('rejects out-of-range numbers and bad quantities, naming each field', () => {
    // GIVEN a negative replica count and a storage size that is no quantity
    const input = cluster({
      api: { replicas: -1 },
      redis: { managed: { storage: { size: 'lots' } } },
    });
    // WHEN
    const problems = problemsOf(input);
    // THEN
    assert.deepStrictEqual(
      problems.map((p) => p.split(':')[0]),
      ['spec.api.replicas', 'spec.redis.managed.storage.size'],
    );
    assert.match(problems[0]!, /Expected integer to be greater or equal to 0/);
    assert.match(problems[1]!, /Expected string to match/);
  });

  it('rejects unknown fields (the API server would prune them silently)', () => {
    assert.deepStrictEqual(problemsOf({ ...cluster(), spec: { colour: 'blue' } }), [
      'spec.colour: unknown field',
    ]);
  });

  it('rejects a MongoDB replica set for now, and a too-long cluster name', () => {
    assert.deepStrictEqual(problemsOf(cluster({ mongodb: { managed: { replicas: 3 } } })), [
      'spec.mongodb.managed: mongodb.managed.replicas > 1 (a replica set) is not supported yet',
    ]);
    assert.deepStrictEqual(problemsOf(cluster({}, 'a'.repeat(41))), [
      '(root): metadata.name must be at most 40 characters (child object names add suffixes)',
    ]);
  });

  it('rejects a cluster name with dots (Service names derive from it)', () => {
    assert.deepStrictEqual(problemsOf(cluster({}, 'a.b')), [
      '(root): metadata.name must be a DNS label (a-z, 0-9, -): Service names derive from it',
    ]);
  });

  it('accepts a status with conditions (as read from the API server)', () => {
    const status = {
      observedGeneration: 1,
      conditions: [
        {
          type: 'Ready',
          status: 'True' as const,
          lastTransitionTime: '2026-11-25T19:00:00Z',
          reason: 'AllReady',
          message: '',
        },
      ],
    };
    assert.equal(validateGossipCluster({ ...cluster(), status }).status?.observedGeneration, 1);
  });

  it('rejects a document that is not an object', () => {
    assert.deepStrictEqual(problemsOf('hello'), ['the document is not an object']);
  });
});

describe('GossipCluster types', () => {
  it('mark defaulted fields present after defaulting, others optional (checked by tsc)', () => {
    const { spec } = applyDefaults(cluster());
    const min: number = spec.gateway.minReplicas;
    const size: string | undefined = spec.redis.managed?.storage.size;
    // @ts-expect-error external has no default, so it may be absent
    const external: { secretRef: unknown } = spec.redis.external;
    assert.deepStrictEqual([min, size, external], [2, '1Gi', undefined]);
  });
});
