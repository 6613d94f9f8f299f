import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Duration, Testing } from 'cdk8s';
import { GossipApi } from '../../src/constructs/api.js';
import { GossipEngine } from '../../src/constructs/engine.js';
import { GossipGateway } from '../../src/constructs/gateway.js';
import type { KubeObject } from '../../src/constructs/kube-object.js';
import { context, find, podSpec } from '../fixtures.js';

/** A container's ports as [name, containerPort] pairs. */
const portsOf = (container: unknown) =>
  (container as { ports: { name: string; containerPort: number }[] }).ports.map((p) => [
    p.name,
    p.containerPort,
  ]);
/** A probe's `httpGet`. */
const httpGetOf = (probe: unknown) => (probe as { httpGet: unknown }).httpGet;

const secretRef = (name: string, key: string) => ({ secretKeyRef: { name, key } });

describe('GossipGateway', () => {
  it('wires GATEWAY_* env from its ConfigMap, generated Secrets and the pod name', () => {
    // GIVEN
    const chart = Testing.chart();
    // WHEN
    new GossipGateway(chart, 'Gateway', { cluster: context({ logLevel: 'debug' }) });
    const objects = Testing.synth(chart) as KubeObject[];
    // THEN
    assert.deepStrictEqual(find(objects, 'ConfigMap', 'demo-gateway').data, {
      GATEWAY_PORT: '8081',
      GATEWAY_OPS_PORT: '9092',
      GATEWAY_LOG_LEVEL: 'debug',
      GATEWAY_TRUST_PROXY: '0',
      GATEWAY_SHUTDOWN_TIMEOUT_MS: '50000',
    });
    const [container] = podSpec(find(objects, 'Deployment', 'demo-gateway')).containers;
    assert.deepStrictEqual(container?.env, [
      { name: 'GATEWAY_AMQP_URL', valueFrom: secretRef('demo-rabbitmq-users', 'gateway-url') },
      { name: 'GATEWAY_REDIS_URL', valueFrom: secretRef('demo-redis-users', 'gateway-url') },
      { name: 'GATEWAY_JWT_PUBLIC_KEYS', valueFrom: secretRef('demo-jwt-public', 'public-keys') },
      { name: 'GATEWAY_INSTANCE_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    ]);
    assert.deepStrictEqual(container?.envFrom, [{ configMapRef: { name: 'demo-gateway' } }]);
  });

  it('serves /metrics and the probes on its ops port, apart from the public WebSocket port', () => {
    const chart = Testing.chart();
    new GossipGateway(chart, 'Gateway', { cluster: context() });
    const objects = Testing.synth(chart) as KubeObject[];
    const [container] = podSpec(find(objects, 'Deployment', 'demo-gateway')).containers;
    assert.ok(container);
    // Kubernetes probes the ops port (the public one answers them too, for load balancers).
    for (const probe of [container.livenessProbe, container.startupProbe]) {
      assert.deepStrictEqual(httpGetOf(probe), {
        path: '/healthz',
        port: 9092,
        scheme: 'HTTP',
      });
    }
    assert.deepStrictEqual(httpGetOf(container.readinessProbe), {
      path: '/readyz',
      port: 9092,
      scheme: 'HTTP',
    });
    // Both ports on the pod and the Service; the autoscaler and the monitors find `ops` by name.
    assert.deepStrictEqual(portsOf(container), [
      ['http', 8081],
      ['ops', 9092],
    ]);
    const svc = find(objects, 'Service', 'demo-gateway');
    assert.deepStrictEqual(
      (svc.spec as { ports: { name: string; port: number }[] }).ports.map((p) => [p.name, p.port]),
      [
        ['http', 8081],
        ['ops', 9092],
      ],
    );
  });

  it('drains within its grace period: a preStop delay before SIGTERM, then a shutdown timeout that ends before SIGKILL', () => {
    // GIVEN the defaults, and a longer drain with a shorter delay
    const synth = (props: { drainTime?: Duration; preStopDelay?: Duration }) => {
      const chart = Testing.chart();
      new GossipGateway(chart, 'G', { cluster: context(), ...props });
      const objects = Testing.synth(chart) as KubeObject[];
      const spec = podSpec(find(objects, 'Deployment', 'demo-gateway'));
      return {
        grace: spec.terminationGracePeriodSeconds,
        preStop: (spec.containers[0]?.lifecycle as { preStop?: unknown } | undefined)?.preStop,
        timeout: (find(objects, 'ConfigMap', 'demo-gateway').data as Record<string, string>)
          .GATEWAY_SHUTDOWN_TIMEOUT_MS,
      };
    };
    // THEN: 60 s = 5 s preStop + 50 s shutdown + 5 s before the kubelet's SIGKILL
    assert.deepStrictEqual(synth({}), {
      grace: 60,
      preStop: { exec: { command: ['node', '-e', 'setTimeout(() => {}, 5000)'] } },
      timeout: '50000',
    });
    assert.deepStrictEqual(
      synth({ drainTime: Duration.seconds(90), preStopDelay: Duration.seconds(2) }),
      {
        grace: 90,
        preStop: { exec: { command: ['node', '-e', 'setTimeout(() => {}, 2000)'] } },
        timeout: '83000',
      },
    );
    // No delay: no hook at all.
    assert.equal(synth({ preStopDelay: Duration.seconds(0) }).preStop, undefined);
    // A grace period the drain cannot fit in is refused, saying what to change.
    assert.throws(
      () => synth({ drainTime: Duration.seconds(20) }),
      /'drainTime' \(20s\) must be at least 'preStopDelay' \(5s\) \+ 20s/,
    );
  });

  it('runs the autoscaler replica count, clamped to min/max', () => {
    const replicasFor = (wanted?: number) => {
      const chart = Testing.chart();
      new GossipGateway(chart, 'G', {
        cluster: context({ gateway: { minReplicas: 2, maxReplicas: 4 } }),
        replicas: wanted,
      });
      return (find(Testing.synth(chart), 'Deployment', 'demo-gateway').spec as { replicas: number })
        .replicas;
    };
    assert.deepStrictEqual(
      [replicasFor(), replicasFor(3), replicasFor(1), replicasFor(9)],
      [2, 3, 2, 4],
    );
    assert.throws(
      () => replicasFor(1.5),
      /gateway replicas must be a non-negative integer, got 1.5/,
    );
  });
});

describe('GossipApi and GossipEngine', () => {
  it('read external backing services from the referenced Secret key', () => {
    // GIVEN mongodb external, redis managed
    const cluster = context({
      mongodb: { external: { secretRef: { name: 'prod-mongo', key: 'uri' } } },
    });
    const chart = Testing.chart();
    // WHEN
    new GossipApi(chart, 'Api', { cluster });
    new GossipEngine(chart, 'Engine', { cluster });
    const objects = Testing.synth(chart) as KubeObject[];
    // THEN
    const env = (name: string) => podSpec(find(objects, 'Deployment', name)).containers[0]?.env;
    assert.deepStrictEqual(env('demo-api'), [
      { name: 'API_MONGO_URL', valueFrom: secretRef('prod-mongo', 'uri') },
      { name: 'API_REDIS_URL', valueFrom: secretRef('demo-redis-users', 'api-url') },
      { name: 'API_JWT_PRIVATE_KEYS', valueFrom: secretRef('demo-jwt', 'private-keys') },
    ]);
    assert.deepStrictEqual(env('demo-engine'), [
      { name: 'ENGINE_AMQP_URL', valueFrom: secretRef('demo-rabbitmq-users', 'engine-url') },
      { name: 'ENGINE_MONGO_URL', valueFrom: secretRef('prod-mongo', 'uri') },
      { name: 'ENGINE_REDIS_URL', valueFrom: secretRef('demo-redis-users', 'engine-url') },
    ]);
    // Each component reads only its own store users' keys.
    for (const [deployment, component] of [
      ['demo-api', 'api'],
      ['demo-engine', 'engine'],
    ] as const) {
      for (const e of env(deployment) ?? []) {
        const key = (e.valueFrom as { secretKeyRef: { name: string; key: string } }).secretKeyRef;
        if (key.name.endsWith('-users')) assert.equal(key.key, `${component}-url`, e.name);
      }
    }
    assert.deepStrictEqual(find(objects, 'ConfigMap', 'demo-api').data, {
      API_PORT: '8080',
      API_HOST: '0.0.0.0',
      API_OPS_PORT: '9090',
      API_DOCS: 'false',
      API_MONGO_DB: 'gossip',
      API_LOG_LEVEL: 'info',
      API_TRUST_PROXY: '0',
      API_ATTACHMENT_MAX_BYTES: '26214400',
      API_ATTACHMENT_QUOTA_BYTES: '262144000',
      API_ATTACHMENT_RETENTION_SECONDS: '604800',
      API_ATTACHMENT_UPLOAD_TIMEOUT_SECONDS: '3600',
    });
    assert.deepStrictEqual(find(objects, 'ConfigMap', 'demo-engine').data, {
      ENGINE_PORT: '9091',
      ENGINE_MONGO_DB: 'gossip',
      ENGINE_RETENTION_SECONDS: '604800',
      ENGINE_EVENT_RETENTION_SECONDS: '2592000',
      ENGINE_RECEIPT_RETENTION_SECONDS: '604800',
      ENGINE_ATTACHMENT_RETENTION_SECONDS: '604800',
      ENGINE_ATTACHMENT_UPLOAD_TIMEOUT_SECONDS: '3600',
      ENGINE_LOG_LEVEL: 'info',
    });
  });

  it('locks pods down: non-root, read-only root, no escalation, no service links, probes', () => {
    const chart = Testing.chart();
    new GossipApi(chart, 'Api', { cluster: context({ api: { replicas: 3 } }) });
    const deployment = find(Testing.synth(chart), 'Deployment', 'demo-api');
    const pod = podSpec(deployment);
    const container = pod.containers[0]!;
    assert.equal((deployment.spec as { replicas: number }).replicas, 3);
    assert.equal(pod.enableServiceLinks, false);
    assert.equal(pod.automountServiceAccountToken, false);
    assert.deepStrictEqual(pod.securityContext, {
      fsGroupChangePolicy: 'Always',
      runAsGroup: 10001,
      runAsNonRoot: true,
      runAsUser: 10001,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    assert.deepStrictEqual(container.securityContext, {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsGroup: 10001,
      runAsNonRoot: true,
      runAsUser: 10001,
    });
    assert.deepStrictEqual(container.livenessProbe, {
      failureThreshold: 3,
      httpGet: { path: '/healthz', port: 9090, scheme: 'HTTP' },
      periodSeconds: 10,
    });
    assert.deepStrictEqual(httpGetOf(container.readinessProbe), {
      path: '/readyz',
      port: 9090,
      scheme: 'HTTP',
    });
    // The public port and the ops port (probes, /metrics), on the pod and the Service.
    assert.deepStrictEqual(portsOf(container), [
      ['http', 8080],
      ['ops', 9090],
    ]);
    const svc = find(Testing.synth(chart), 'Service', 'demo-api');
    assert.deepStrictEqual(
      (svc.spec as { ports: { name: string; port: number }[] }).ports.map((p) => [p.name, p.port]),
      [
        ['http', 8080],
        ['ops', 9090],
      ],
    );
    assert.deepStrictEqual(container.resources, {
      requests: { cpu: '100m', memory: '128Mi' },
      limits: { memory: '512Mi' },
    });
    assert.equal(container.image, 'ghcr.io/gossip/api:0.1.0');
  });

  it('takes per-component image overrides and the image tag', () => {
    const cluster = context({ image: { tag: 'dev', components: { engine: 'local/engine:x' } } });
    const chart = Testing.chart();
    new GossipApi(chart, 'Api', { cluster });
    new GossipEngine(chart, 'Engine', { cluster });
    const objects = Testing.synth(chart) as KubeObject[];
    const image = (name: string) => podSpec(find(objects, 'Deployment', name)).containers[0]?.image;
    assert.deepStrictEqual(
      [image('demo-api'), image('demo-engine')],
      ['ghcr.io/gossip/api:dev', 'local/engine:x'],
    );
  });
});
