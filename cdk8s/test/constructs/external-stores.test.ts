/**
 * External stores with a URL per component (issue 13 §5): each component that uses a store can
 * get its own Secret key, so least privilege holds for stores outside the cluster too.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidGossipClusterError, validateGossipCluster } from '../../src/api/validate.js';
import { buildClusterObjects } from '../../src/build.js';
import { connectionSecret, externalStoreSecrets } from '../../src/constructs/context.js';
import { cluster, context, find, podSpec } from '../fixtures.js';

const ref = (name: string, key = 'url') => ({ name, key });
const spec = {
  rabbitmq: {
    external: { secretRef: ref('amqp'), components: { engine: ref('amqp-engine', 'u') } },
  },
  mongodb: {
    external: {
      secretRef: ref('mongo'),
      components: { api: ref('mongo-api'), engine: ref('mongo-engine') },
    },
  },
  redis: { external: { secretRef: ref('redis'), components: { gateway: ref('redis-gw') } } },
};

describe('external stores with per-component URLs', () => {
  it('gives each component its own Secret key where set, the store secretRef elsewhere', () => {
    // GIVEN
    const ctx = context(spec);
    // THEN
    assert.deepStrictEqual(connectionSecret(ctx, 'rabbitmq', 'engine'), ref('amqp-engine', 'u'));
    assert.deepStrictEqual(connectionSecret(ctx, 'rabbitmq', 'gateway'), ref('amqp'));
    assert.deepStrictEqual(connectionSecret(ctx, 'mongodb', 'api'), ref('mongo-api'));
    assert.deepStrictEqual(connectionSecret(ctx, 'mongodb', 'engine'), ref('mongo-engine'));
    assert.deepStrictEqual(connectionSecret(ctx, 'redis', 'gateway'), ref('redis-gw'));
    assert.deepStrictEqual(connectionSecret(ctx, 'redis', 'api'), ref('redis'));
    assert.deepStrictEqual(connectionSecret(ctx, 'redis', 'engine'), ref('redis'));
  });

  it('wires the pods to those Secrets', () => {
    // WHEN
    const objects = buildClusterObjects(cluster(spec));
    const env = (name: string) =>
      Object.fromEntries(
        (podSpec(find(objects, 'Deployment', name)).containers[0]?.env ?? []).map((e) => [
          e.name,
          (e.valueFrom as { secretKeyRef?: unknown } | undefined)?.secretKeyRef,
        ]),
      );
    // THEN
    const engine = env('demo-engine');
    assert.deepStrictEqual(engine.ENGINE_AMQP_URL, ref('amqp-engine', 'u'));
    assert.deepStrictEqual(engine.ENGINE_MONGO_URL, ref('mongo-engine'));
    assert.deepStrictEqual(engine.ENGINE_REDIS_URL, ref('redis'));
    const gateway = env('demo-gateway');
    assert.deepStrictEqual(gateway.GATEWAY_AMQP_URL, ref('amqp'));
    assert.deepStrictEqual(gateway.GATEWAY_REDIS_URL, ref('redis-gw'));
    const api = env('demo-api');
    assert.deepStrictEqual(api.API_MONGO_URL, ref('mongo-api'));
    assert.deepStrictEqual(api.API_REDIS_URL, ref('redis'));
  });

  it('lists each external Secret the pods read once per store, for the operator to read by name', () => {
    assert.deepStrictEqual(externalStoreSecrets(context(spec)), [
      { service: 'rabbitmq', name: 'amqp' },
      { service: 'rabbitmq', name: 'amqp-engine' },
      { service: 'mongodb', name: 'mongo-api' },
      { service: 'mongodb', name: 'mongo-engine' },
      { service: 'redis', name: 'redis' },
      { service: 'redis', name: 'redis-gw' },
    ]);
    // mongodb's secretRef is read by no component here, so it is not needed.
    // Without per-component refs: the one secretRef, as before.
    const one = context({ redis: { external: { secretRef: ref('r') } } });
    assert.deepStrictEqual(externalStoreSecrets(one), [{ service: 'redis', name: 'r' }]);
    assert.deepStrictEqual(externalStoreSecrets(context()), []);
  });

  it('refuses a component that does not use the store (the api has no RabbitMQ)', () => {
    const bad = cluster({
      rabbitmq: { external: { secretRef: ref('amqp'), components: { api: ref('x') } } },
    } as never);
    assert.throws(
      () => validateGossipCluster(bad),
      (err) =>
        err instanceof InvalidGossipClusterError &&
        /spec\.rabbitmq\.external\.components\.api: unknown field/.test(err.message),
    );
  });
});
