import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Testing } from 'cdk8s';
import { GatewayDisruptionBudget } from '../../src/constructs/gateway-pdb.js';
import type { KubeObject } from '../../src/constructs/kube-object.js';
import { ManagedMongodb } from '../../src/constructs/mongodb.js';
import { ManagedRabbitmq, rabbitmqStartScript } from '../../src/constructs/rabbitmq.js';
import { ManagedRedis } from '../../src/constructs/redis.js';
import { rabbitmqDefinitions, redisAclFile } from '../../src/constructs/store-rights.js';
import { context, find, podSpec } from '../fixtures.js';

const labels = (component: string) => ({
  'app.kubernetes.io/name': 'gossip',
  'app.kubernetes.io/instance': 'demo',
  'app.kubernetes.io/component': component,
  'app.kubernetes.io/managed-by': 'gossip-operator',
});

describe('GatewayDisruptionBudget', () => {
  it('lets one gateway go at a time', () => {
    const chart = Testing.chart();
    new GatewayDisruptionBudget(chart, 'Pdb', { cluster: context() });
    assert.deepStrictEqual(Testing.synth(chart), [
      {
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: { name: 'demo-gateway', labels: labels('gateway') },
        spec: {
          maxUnavailable: 1,
          selector: {
            matchLabels: {
              'app.kubernetes.io/name': 'gossip',
              'app.kubernetes.io/instance': 'demo',
              'app.kubernetes.io/component': 'gateway',
            },
          },
        },
      },
    ]);
  });

  it('says what to change for an invalid maxUnavailable', () => {
    assert.throws(
      () =>
        new GatewayDisruptionBudget(Testing.chart(), 'Pdb', {
          cluster: context(),
          maxUnavailable: 0,
        }),
      /'maxUnavailable' \(0\) must be an integer >= 1/,
    );
  });
});

describe('managed stores', () => {
  it('RabbitMQ: StatefulSet with a claim per pod, headless Service, classic-config peers', () => {
    // GIVEN a three-node RabbitMQ with a storage class
    const cluster = context({
      rabbitmq: { managed: { replicas: 3, storage: { size: '5Gi', storageClassName: 'fast' } } },
      dataRetentionPolicy: 'Delete',
    });
    const chart = Testing.chart();
    // WHEN
    new ManagedRabbitmq(chart, 'Rabbit', { cluster });
    const objects = Testing.synth(chart) as KubeObject[];
    // THEN
    const sts = find(objects, 'StatefulSet', 'demo-rabbitmq').spec as Record<string, unknown>;
    assert.equal(sts.replicas, 3);
    assert.equal(sts.serviceName, 'demo-rabbitmq-headless');
    assert.deepStrictEqual(sts.persistentVolumeClaimRetentionPolicy, {
      whenDeleted: 'Delete',
      whenScaled: 'Retain',
    });
    assert.deepStrictEqual(sts.volumeClaimTemplates, [
      {
        metadata: { name: 'data', labels: labels('rabbitmq') },
        spec: {
          accessModes: ['ReadWriteOnce'],
          storageClassName: 'fast',
          resources: { requests: { storage: '5Gi' } },
        },
      },
    ]);
    const conf = (
      find(objects, 'ConfigMap', 'demo-rabbitmq-config').data as Record<string, string>
    )['20-gossip.conf'];
    const domain = 'demo-rabbitmq-headless.chat.svc.cluster.local';
    assert.equal(
      conf,
      [
        'cluster_formation.peer_discovery_backend = classic_config',
        `cluster_formation.classic_config.nodes.1 = rabbit@demo-rabbitmq-0.${domain}`,
        `cluster_formation.classic_config.nodes.2 = rabbit@demo-rabbitmq-1.${domain}`,
        `cluster_formation.classic_config.nodes.3 = rabbit@demo-rabbitmq-2.${domain}`,
        'load_definitions = /tmp/gossip-definitions.json',
        '',
      ].join('\n'),
    );
    const headless = find(objects, 'Service', 'demo-rabbitmq-headless').spec as Record<
      string,
      unknown
    >;
    assert.equal(headless.clusterIP, 'None');
    assert.equal(headless.publishNotReadyAddresses, true);
    const container = podSpec(find(objects, 'StatefulSet', 'demo-rabbitmq')).containers[0]!;
    // The management plugin (an HTTP admin API) is off unless spec asks for it.
    assert.equal(container.image, 'rabbitmq:3.13');
    assert.deepStrictEqual(
      container.env
        ?.filter((e) => e.valueFrom && 'secretKeyRef' in (e.valueFrom as object))
        .map((e) => e.name),
      [
        'RABBITMQ_DEFAULT_USER',
        'RABBITMQ_DEFAULT_PASS',
        'RABBITMQ_ERLANG_COOKIE',
        'GOSSIP_GATEWAY_PASSWORD',
        'GOSSIP_ENGINE_PASSWORD',
      ],
    );
  });

  it('Redis: client Service reaches the primary only; replicas follow pod 0', () => {
    const chart = Testing.chart();
    new ManagedRedis(chart, 'Redis', { cluster: context({ redis: { managed: { replicas: 2 } } }) });
    const objects = Testing.synth(chart) as KubeObject[];
    const client = find(objects, 'Service', 'demo-redis').spec as {
      selector: Record<string, string>;
    };
    assert.equal(client.selector['statefulset.kubernetes.io/pod-name'], 'demo-redis-0');
    const container = podSpec(find(objects, 'StatefulSet', 'demo-redis')).containers[0]!;
    const script = (container.command as string[])[2]!;
    assert.match(script, /--replicaof demo-redis-0\.demo-redis-headless\.chat\.svc 6379/);
    assert.doesNotMatch(script, /requirepass [^%]/, 'the password is never in the command line');
  });

  it('every store pod runs non-root with a read-only root filesystem and no literal secrets', () => {
    const cluster = context();
    const chart = Testing.chart();
    new ManagedRabbitmq(chart, 'R', { cluster });
    new ManagedMongodb(chart, 'M', { cluster });
    new ManagedRedis(chart, 'D', { cluster });
    const sets = (Testing.synth(chart) as KubeObject[]).filter((o) => o.kind === 'StatefulSet');
    assert.equal(sets.length, 3);
    for (const sts of sets) {
      const pod = podSpec(sts);
      assert.deepStrictEqual(pod.securityContext, {
        fsGroup: 999,
        runAsGroup: 999,
        runAsNonRoot: true,
        runAsUser: 999,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      const sc = pod.containers[0]!.securityContext as Record<string, unknown>;
      assert.equal(sc.readOnlyRootFilesystem, true, sts.metadata.name);
      assert.equal(sc.allowPrivilegeEscalation, false, sts.metadata.name);
      for (const env of pod.containers[0]!.env ?? []) {
        assert.ok(
          !/PASS|COOKIE/.test(env.name) || env.value === undefined,
          `${env.name} is a literal`,
        );
      }
    }
  });
});

describe('the RabbitMQ start script', () => {
  it("writes store-rights.ts's definitions with each component's password, then starts the image's entrypoint", (t) => {
    // GIVEN a stand-in entrypoint that prints its arguments and the definitions file
    const dir = mkdtempSync(join(tmpdir(), 'gossip-rabbit-'));
    t.after(() => {
      rmSync(dir, { recursive: true, force: true });
      rmSync('/tmp/gossip-definitions.json', { force: true });
    });
    writeFileSync(
      join(dir, 'docker-entrypoint.sh'),
      '#!/bin/sh\necho "ARGS $*"\ncat /tmp/gossip-definitions.json\n',
      { mode: 0o755 },
    );
    const run = (gateway: string) =>
      execFileSync('sh', ['-c', rabbitmqStartScript()], {
        encoding: 'utf8',
        env: {
          PATH: `${dir}:${process.env.PATH}`,
          GOSSIP_GATEWAY_PASSWORD: gateway,
          GOSSIP_ENGINE_PASSWORD: 'engine-s3cret',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    // WHEN it runs
    const out = run('gw-s3cret');
    // THEN
    assert.match(out, /^ARGS rabbitmq-server\n/);
    assert.deepStrictEqual(
      JSON.parse(out.slice(out.indexOf('\n') + 1)),
      rabbitmqDefinitions({ passwords: { gateway: 'gw-s3cret', engine: 'engine-s3cret' } }),
    );
    assert.throws(() => run('a/b"c'), /password must be/);
  });
});

describe('the Redis start script', () => {
  function runScript(t: { after: (fn: () => void) => void }, podName: string) {
    // GIVEN a stand-in redis-server that prints its arguments and config file
    const dir = mkdtempSync(join(tmpdir(), 'gossip-redis-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(
      join(dir, 'redis-server'),
      '#!/bin/sh\necho "ARGS $*"\ncat "$1"\necho ACLFILE\ncat "$TMPDIR/users.acl"\n',
      { mode: 0o755 },
    );
    const redis = new ManagedRedis(Testing.chart(), 'R', {
      cluster: context({ redis: { managed: { replicas: 3 } } }),
    });
    // WHEN it runs as pod `podName`
    return execFileSync('sh', ['-c', redis.script], {
      encoding: 'utf8',
      env: {
        PATH: `${dir}:${process.env.PATH}`,
        TMPDIR: dir,
        POD_NAME: podName,
        ...passwords,
      },
    });
  }
  const passwords = {
    GOSSIP_API_PASSWORD: 'api-s3cret',
    GOSSIP_GATEWAY_PASSWORD: 'gw-s3cret',
    GOSSIP_ENGINE_PASSWORD: 'engine-s3cret',
    GOSSIP_REPLICATION_PASSWORD: 'repl-s3cret',
  };

  it('starts pod 0 as the primary with the ACL users, passwords only in its files', (t) => {
    const out = runScript(t, 'demo-redis-0');
    assert.match(out, /^ARGS \S+\/redis\.conf --dir \/data --appendonly yes\n/);
    assert.match(out, /aclfile \S+\/users\.acl\nmasteruser replication\nmasterauth repl-s3cret\n/);
    assert.doesNotMatch(out, /requirepass/);
    assert.doesNotMatch(out.split('\n')[0]!, /s3cret/);
    // THEN the aclfile is store-rights.ts's, with each component's password filled in
    const aclfile = out.slice(out.indexOf('ACLFILE\n') + 'ACLFILE\n'.length);
    assert.equal(
      aclfile,
      redisAclFile({
        passwords: {
          api: 'api-s3cret',
          gateway: 'gw-s3cret',
          engine: 'engine-s3cret',
          replication: 'repl-s3cret',
        },
      }),
    );
  });

  it('refuses a password that is not URL-safe base64 (it is spliced into the aclfile)', (t) => {
    assert.throws(() => {
      passwords.GOSSIP_API_PASSWORD = 'a/b';
      try {
        runScript(t, 'demo-redis-0');
      } finally {
        passwords.GOSSIP_API_PASSWORD = 'api-s3cret';
      }
    }, /password must be/);
  });

  it('starts other pods as replicas of pod 0', (t) => {
    const out = runScript(t, 'demo-redis-2');
    assert.match(
      out.split('\n')[0]!,
      /--appendonly yes --replicaof demo-redis-0\.demo-redis-headless\.chat\.svc 6379$/,
    );
  });

  it('runs the management image only with spec.rabbitmq.managed.management: true', () => {
    const image = (spec: object) => {
      const chart = Testing.chart();
      new ManagedRabbitmq(chart, 'R', { cluster: context(spec) });
      return podSpec(find(Testing.synth(chart), 'StatefulSet', 'demo-rabbitmq')).containers[0]!
        .image;
    };
    assert.equal(image({}), 'rabbitmq:3.13');
    assert.equal(
      image({ rabbitmq: { managed: { management: true } } }),
      'rabbitmq:3.13-management',
    );
    assert.equal(
      image({ rabbitmq: { managed: { management: false, version: '4.0' } } }),
      'rabbitmq:4.0',
    );
  });
});
