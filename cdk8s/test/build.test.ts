import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildClusterObjects } from '../src/build.js';
import { buildGeneratedSecrets } from '../src/constructs/generated-secrets.js';
import type { KubeObject } from '../src/constructs/kube-object.js';
import { applyOrder } from '../src/constructs/kube-object.js';
import { configHashAnnotation } from '../src/constructs/naming.js';
import { cluster, context, find, matchSnapshot, snapshotYaml } from './fixtures.js';

const snapshots = join(fileURLToPath(new URL('.', import.meta.url)), '__snapshots__');

function hashOf(objects: KubeObject[], kind: string, name: string): string {
  const spec = find(objects, kind, name).spec as {
    template: { metadata: { annotations: Record<string, string> } };
  };
  return spec.template.metadata.annotations[configHashAnnotation]!;
}

describe('buildClusterObjects', () => {
  it('matches the committed snapshot for the default cluster', () => {
    matchSnapshot(
      join(snapshots, 'default-cluster.yaml'),
      snapshotYaml(buildClusterObjects(cluster())),
    );
  });

  it('orders config, secrets and service accounts before the workloads that read them', () => {
    const kinds = buildClusterObjects(cluster()).map((o) => o.kind);
    const ranks = kinds.map((k) => applyOrder.indexOf(k));
    assert.ok(!ranks.includes(-1), kinds.join());
    assert.deepStrictEqual(
      ranks,
      [...ranks].sort((a, b) => a - b),
    );
    assert.ok(kinds.lastIndexOf('ConfigMap') < kinds.indexOf('StatefulSet'));
    assert.ok(kinds.lastIndexOf('ServiceAccount') < kinds.indexOf('Deployment'));
  });

  it('labels every object per the shared contract and puts it in the cluster namespace', () => {
    for (const object of buildClusterObjects(cluster())) {
      const l = object.metadata.labels ?? {};
      const where = `${object.kind}/${object.metadata.name}`;
      assert.equal(l['app.kubernetes.io/name'], 'gossip', where);
      assert.equal(l['app.kubernetes.io/instance'], 'demo', where);
      assert.equal(l['app.kubernetes.io/managed-by'], 'gossip-operator', where);
      assert.equal(object.metadata.namespace, 'chat', where);
      // The default-deny NetworkPolicy spans every component, so it names none.
      if (where === 'NetworkPolicy/demo-default-deny') continue;
      assert.match(
        l['app.kubernetes.io/component'] ?? '',
        /^(api|gateway|engine|rabbitmq|mongodb|redis)$/,
        where,
      );
    }
  });

  it('never contains a Secret (generated values are the operator’s, created once)', () => {
    const objects = buildClusterObjects(cluster());
    assert.deepStrictEqual(
      objects.filter((o) => o.kind === 'Secret'),
      [],
    );
  });

  it('leaves out managed stores for external services', () => {
    const external = { secretRef: { name: 'ext', key: 'url' } };
    const names = buildClusterObjects(
      cluster({ rabbitmq: { external }, mongodb: { external }, redis: { external } }),
    )
      .filter((o) => o.kind === 'StatefulSet')
      .map((o) => o.metadata.name);
    assert.deepStrictEqual(names, []);
  });

  it('sets a controller owner reference from metadata.uid, or the one given, or none', () => {
    const owned = buildClusterObjects({
      ...cluster(),
      metadata: { name: 'demo', namespace: 'chat', uid: 'u-1' },
    });
    for (const o of owned) {
      assert.deepStrictEqual(o.metadata.ownerReferences, [
        {
          apiVersion: 'gossip.dev/v1alpha1',
          kind: 'GossipCluster',
          name: 'demo',
          uid: 'u-1',
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
    }
    const none = buildClusterObjects(
      { ...cluster(), metadata: { name: 'demo', uid: 'u-1' } },
      { ownerReference: null },
    );
    assert.ok(none.every((o) => o.metadata.ownerReferences === undefined));
    assert.ok(
      buildClusterObjects(cluster()).every((o) => o.metadata.ownerReferences === undefined),
    );
  });

  it('changes the config hash of exactly the pods whose config or Secret changed', () => {
    const base = buildClusterObjects(cluster());
    const rotated = buildClusterObjects(cluster(), { secretVersions: { 'demo-jwt': '42' } });
    const rotatedPublic = buildClusterObjects(cluster(), {
      secretVersions: { 'demo-jwt-public': '42' },
    });
    const retention = buildClusterObjects(cluster({ retention: { messageSeconds: 3600 } }));
    /** The Deployments whose pod-template hash differs from `base`'s. */
    const rolled = (objs: typeof base) =>
      ['demo-api', 'demo-gateway', 'demo-engine'].filter(
        (name) => hashOf(objs, 'Deployment', name) !== hashOf(base, 'Deployment', name),
      );
    // GIVEN the private keys changed: only the api reads them (gateways hold no signing key)
    assert.deepEqual(rolled(rotated), ['demo-api']);
    // GIVEN the public keys changed: the gateways read them
    assert.deepEqual(rolled(rotatedPublic), ['demo-gateway']);
    // GIVEN the retention changed: only the engine's ConfigMap changes
    assert.deepEqual(rolled(retention), ['demo-engine']);
    // and the same input always gives the same hash
    assert.equal(
      hashOf(buildClusterObjects(cluster()), 'Deployment', 'demo-api'),
      hashOf(base, 'Deployment', 'demo-api'),
    );
  });

  it('emits ServiceMonitor and PrometheusRule only when switched on', () => {
    const kinds = (spec: Parameters<typeof cluster>[0]) =>
      buildClusterObjects(cluster(spec)).map((o) => o.kind);
    assert.ok(!kinds({}).includes('ServiceMonitor'));
    const on = kinds({ monitoring: { serviceMonitor: true, prometheusRule: true } });
    assert.deepStrictEqual(on.slice(-2), ['ServiceMonitor', 'PrometheusRule']);
  });

  it('throws InvalidGossipClusterError for an invalid spec', () => {
    assert.throws(
      () => buildClusterObjects(cluster({ gateway: { minReplicas: 3, maxReplicas: 1 } })),
      {
        name: 'InvalidGossipClusterError',
      },
    );
  });
});

describe('buildGeneratedSecrets', () => {
  it('makes the JWT key and credentials of managed services, URLs pointing at the Services', () => {
    const random = (n: number) => Buffer.alloc(n, 7);
    const secrets = buildGeneratedSecrets(
      context({ mongodb: { external: { secretRef: { name: 'm', key: 'url' } } } }),
      random,
    );
    assert.deepStrictEqual(
      secrets.map((s) => s.metadata.name),
      [
        'demo-jwt',
        'demo-jwt-public',
        'demo-rabbitmq',
        'demo-rabbitmq-users',
        'demo-redis',
        'demo-redis-users',
      ],
    );
    const data = (name: string) =>
      find(secrets, 'Secret', name).stringData as Record<string, string>;
    // The api's Secret holds an Ed25519 private JWK set; the gateways' only its public half.
    const priv = JSON.parse(data('demo-jwt')['private-keys']!) as {
      keys: Array<Record<string, string>>;
    };
    const pub = JSON.parse(data('demo-jwt-public')['public-keys']!) as {
      keys: Array<Record<string, string>>;
    };
    assert.equal(priv.keys.length, 1);
    assert.deepStrictEqual([priv.keys[0]!.kty, priv.keys[0]!.crv], ['OKP', 'Ed25519']);
    assert.equal(priv.keys[0]!.d, Buffer.alloc(32, 7).toString('base64url'));
    assert.deepStrictEqual(pub.keys, [
      {
        kty: 'OKP',
        crv: 'Ed25519',
        x: priv.keys[0]!.x,
        kid: priv.keys[0]!.kid,
        alg: 'EdDSA',
        use: 'sig',
      },
    ]);
    assert.ok(!JSON.stringify(pub).includes(priv.keys[0]!.d!));
    const pw = Buffer.alloc(24, 7).toString('base64url');
    assert.equal(data('demo-rabbitmq').url, `amqp://gossip:${pw}@demo-rabbitmq.chat.svc:5672`);
    assert.equal(data('demo-redis').url, `redis://:${pw}@demo-redis.chat.svc:6379`);
    assert.deepStrictEqual(Object.keys(data('demo-rabbitmq')), [
      'username',
      'password',
      'erlang-cookie',
      'url',
    ]);
    // One user per component on the gossip vhost, and per component in Redis.
    assert.deepStrictEqual(data('demo-rabbitmq-users'), {
      'gateway-password': pw,
      'gateway-url': `amqp://gateway:${pw}@demo-rabbitmq.chat.svc:5672/gossip`,
      'engine-password': pw,
      'engine-url': `amqp://engine:${pw}@demo-rabbitmq.chat.svc:5672/gossip`,
    });
    assert.deepStrictEqual(data('demo-redis-users'), {
      'replication-password': pw,
      'api-password': pw,
      'api-url': `redis://api:${pw}@demo-redis.chat.svc:6379`,
      'gateway-password': pw,
      'gateway-url': `redis://gateway:${pw}@demo-redis.chat.svc:6379`,
      'engine-password': pw,
      'engine-url': `redis://engine:${pw}@demo-redis.chat.svc:6379`,
    });
  });

  it('draws fresh values each time', () => {
    const a = buildGeneratedSecrets(context());
    const b = buildGeneratedSecrets(context());
    assert.notDeepStrictEqual(a[0]?.stringData, b[0]?.stringData);
  });
});
