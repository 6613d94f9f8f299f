/**
 * Against the real kube-apiserver of the test environment: the generated CRD installs, every
 * object the builders make passes a server-side dry run, the API server rejects invalid specs
 * with readable schema and CEL messages, and its defaults equal the offline `applyDefaults`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { KubernetesObject } from '@kubernetes/client-node';
import { testEnv, uniqueName } from '@gossip/testenv';
import { applyDefaults } from '../src/api/validate.js';
import type { GossipCluster, GossipClusterSpec } from '../src/api/v1alpha1.js';
import { buildClusterObjects, resolveCluster } from '../src/build.js';
import { buildGeneratedSecrets } from '../src/constructs/generated-secrets.js';
import { runSynth } from '../src/synth-cli.js';
import {
  assertContains,
  fieldManager,
  installCrd,
  kubeClient,
  rejection,
  createNamespace,
} from './kube.js';
import { gossipClusterCrd } from '../src/crd.js';

const client = kubeClient();
let namespace = '';

function gsc(name: string, spec: unknown): GossipCluster {
  return {
    apiVersion: 'gossip.dev/v1alpha1',
    kind: 'GossipCluster',
    metadata: { name, namespace },
    spec: spec as GossipClusterSpec,
  };
}

function kubectl(...args: string[]): string {
  const env = testEnv();
  return execFileSync(env.bin.kubectl, ['--kubeconfig', env.kubeconfig, ...args], {
    encoding: 'utf8',
  });
}

/** kubectl with `input` on stdin. */
function kubectlIn(input: string, ...args: string[]): string {
  const env = testEnv();
  return execFileSync(env.bin.kubectl, ['--kubeconfig', env.kubeconfig, ...args], {
    encoding: 'utf8',
    input,
  });
}

const create = (o: object, dryRun?: 'All') =>
  client.create(o as KubernetesObject, undefined, dryRun, fieldManager);

describe('GossipCluster on a real kube-apiserver', () => {
  let deleteNamespace = async () => {};
  before(async () => {
    await installCrd(client);
    namespace = uniqueName('gsc');
    deleteNamespace = await createNamespace(client, namespace);
  });
  after(() => deleteNamespace());

  it('installs the CRD exactly as generated (no field dropped or pruned)', async () => {
    const crd = gossipClusterCrd() as { metadata: { name: string } };
    // kubectl, not client.read(): that returns the client's model names (`_default`).
    assertContains(JSON.parse(kubectl('get', 'crd', crd.metadata.name, '-o', 'json')), crd);
  });

  it('server-side dry-runs every synthesized object, Secrets included, for several specs', async () => {
    const specs: GossipClusterSpec[] = [
      {},
      {
        rabbitmq: { managed: { replicas: 3, storage: { size: '5Gi', storageClassName: 'fast' } } },
        redis: { managed: { replicas: 2 } },
        mongodb: { external: { secretRef: { name: 'mongo', key: 'url' } } },
        dataRetentionPolicy: 'Delete',
        image: { components: { api: 'registry.local/api:dev' } },
      },
    ];
    // The longest allowed name, so every derived name and label value is checked for length.
    const names = ['dry-0', 'x'.repeat(40)];
    for (const [i, spec] of specs.entries()) {
      const cluster = gsc(names[i]!, spec);
      const objects = [
        ...buildGeneratedSecrets(resolveCluster(cluster)),
        ...buildClusterObjects(cluster),
        cluster,
      ];
      assert.ok(objects.length >= 20, `only ${objects.length} objects`);
      for (const object of objects) {
        const where = `${object.kind}/${object.metadata.name}`;
        if (object.kind === 'NetworkPolicy') {
          // Through kubectl: the client's model serializer drops a rule's `from`.
          const dry = kubectlIn(
            JSON.stringify(object),
            'create',
            '--dry-run=server',
            '-o',
            'json',
            '-f',
            '-',
          );
          assertContains(JSON.parse(dry), object, where);
          continue;
        }
        const created = (await create(object, 'All').catch((err: unknown) => {
          throw new Error(
            `${where} failed the dry run: ${JSON.stringify((err as { body?: unknown }).body ?? err)}`,
          );
        })) as KubernetesObject;
        assert.equal(created.metadata?.namespace, namespace, where);
        // Secrets come back with `data`, not `stringData`; everything else must survive as sent.
        if (object.kind !== 'Secret') assertContains(created, object, where);
      }
    }
  });

  it('npm run synth output (example cluster, with Secrets) passes kubectl apply --dry-run=server', (t) => {
    // GIVEN the example moved into this test's namespace
    const dir = join(testEnv().dir, 'scratch', uniqueName('synth'));
    mkdirSync(dir, { recursive: true });
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const example = readFileSync(
      fileURLToPath(new URL('../examples/cluster.yaml', import.meta.url)),
      'utf8',
    );
    writeFileSync(
      join(dir, 'cluster.yaml'),
      example.replace('namespace: chat', `namespace: ${namespace}`),
    );
    // WHEN
    let stderr = '';
    const code = runSynth(['-f', 'cluster.yaml', '-o', 'out', '--with-secrets'], {
      stdout: () => undefined,
      stderr: (text) => (stderr += text),
      cwd: dir,
    });
    assert.equal(code, 0, stderr);
    // THEN
    const out = kubectl('apply', '--dry-run=server', '-f', join(dir, 'out'));
    assert.match(out, /secret\/demo-jwt created \(server dry run\)/);
    assert.match(out, /statefulset\.apps\/demo-rabbitmq created \(server dry run\)/);
    assert.match(out, /deployment\.apps\/demo-gateway created \(server dry run\)/);
    assert.match(out, /networkpolicy\.networking\.k8s\.io\/demo-default-deny created/);
    assert.match(out, /secret\/demo-rabbitmq-users created \(server dry run\)/);
    assert.match(out, /secret\/demo-redis-users created \(server dry run\)/);
    // 26 objects (the per-component RabbitMQ and Redis users' Secrets among them), plus the
    // default-deny NetworkPolicy and one per component (no MongoDB here).
    assert.equal(out.trim().split('\n').length, 32, out);
  });

  it('applies the schema defaults on the server, equal to the offline applyDefaults', async () => {
    const cluster = gsc('defaults', {
      gateway: { maxReplicas: 4 },
      mongodb: { external: { secretRef: { name: 'm', key: 'url' } } },
    });
    const stored = (await create(cluster)) as unknown as GossipCluster;
    assert.deepStrictEqual(stored.spec, applyDefaults(cluster).spec);
    assert.equal(stored.spec?.gateway?.scaleDownStabilizationSeconds, 300);
    assert.deepStrictEqual(stored.spec?.mongodb, {
      external: { secretRef: { name: 'm', key: 'url' } },
    });
  });

  it('rejects gateway.minReplicas > maxReplicas with the CEL message', async () => {
    const { code, message } = await rejection(
      create(gsc('minmax', { gateway: { minReplicas: 5, maxReplicas: 2 } })),
    );
    assert.equal(code, 422);
    assert.match(
      message,
      /spec\.gateway: Invalid value: .*gateway\.minReplicas must be less than or equal to gateway\.maxReplicas/,
    );
  });

  it('accepts trustProxy CIDRs and rejects hops and cidrs together with the CEL message', async () => {
    await create(gsc('tpok', { trustProxy: { cidrs: ['10.0.0.0/8', 'fd00::/8'] } }));
    const { code, message } = await rejection(
      create(gsc('tpboth', { trustProxy: { hops: 1, cidrs: ['10.0.0.0/8'] } })),
    );
    assert.equal(code, 422);
    assert.match(message, /spec\.trustProxy: Invalid value: .*set hops or cidrs, not both/);
    const bad = await rejection(create(gsc('tpbad', { trustProxy: { cidrs: ['not an ip'] } })));
    assert.equal(bad.code, 422);
  });

  it('defaults spec.attachments and rejects a quota below one largest file with the CEL message', async () => {
    const stored = (await create(gsc('attok', { attachments: { maxBytes: 1024 } }))) as unknown as {
      spec: GossipClusterSpec;
    };
    assert.deepStrictEqual(stored.spec.attachments, {
      maxBytes: 1024,
      quotaBytes: 262_144_000,
      retentionSeconds: 604_800,
      uploadTimeoutSeconds: 3600,
    });
    // 1024 plaintext bytes are one chunk: 1040 ciphertext bytes.
    await create(gsc('attexact', { attachments: { maxBytes: 1024, quotaBytes: 1040 } }));
    const { code, message } = await rejection(
      create(gsc('attquota', { attachments: { maxBytes: 1024, quotaBytes: 1039 } })),
    );
    assert.equal(code, 422);
    assert.match(
      message,
      /spec\.attachments: Invalid value: .*attachments\.quotaBytes must hold at least one file of maxBytes/,
    );
    const zero = await rejection(create(gsc('attzero', { attachments: { maxBytes: 0 } })));
    assert.equal(zero.code, 422);
  });

  it('rejects managed and external both set, and neither set', async () => {
    const both = { managed: {}, external: { secretRef: { name: 'r', key: 'url' } } };
    const a = await rejection(create(gsc('both', { redis: both })));
    assert.match(
      a.message,
      /spec\.redis: Invalid value: .*redis: set exactly one of managed or external/,
    );
    const b = await rejection(create(gsc('neither', { rabbitmq: {} })));
    assert.match(b.message, /rabbitmq: set exactly one of managed or external/);
  });

  it('rejects a bad enum, a bad quantity and a negative replica count by schema', async () => {
    const { message } = await rejection(
      create(
        gsc('schema', {
          dataRetentionPolicy: 'Keep',
          api: { replicas: -1 },
          redis: { managed: { storage: { size: 'lots' } } },
        }),
      ),
    );
    assert.match(
      message,
      /spec\.dataRetentionPolicy: Unsupported value: "Keep": supported values: "Retain", "Delete"/,
    );
    assert.match(
      message,
      /spec\.api\.replicas: Invalid value: -1: spec\.api\.replicas in body should be greater than or equal to 0/,
    );
    assert.match(message, /spec\.redis\.managed\.storage\.size in body should match/);
  });

  it('rejects a too-long or dotted name and a MongoDB replica set', async () => {
    const long = await rejection(create(gsc('a'.repeat(41), {})));
    assert.match(long.message, /metadata\.name must be at most 40 characters/);
    const dotted = await rejection(create(gsc('a.b', {})));
    assert.match(dotted.message, /metadata\.name must be a DNS label/);
    const rs = await rejection(create(gsc('rs', { mongodb: { managed: { replicas: 3 } } })));
    assert.match(
      rs.message,
      /mongodb\.managed\.replicas > 1 \(a replica set\) is not supported yet/,
    );
  });

  it('refuses to change managed storage after creation (transition rule)', async () => {
    const cluster = gsc('storage', { redis: { managed: { storage: { size: '1Gi' } } } });
    const stored = (await create(cluster)) as unknown as GossipCluster & KubernetesObject;
    const changed = structuredClone(stored);
    changed.spec!.redis!.managed!.storage = { size: '2Gi' };
    const { message } = await rejection(
      client.replace(changed, undefined, undefined, fieldManager),
    );
    assert.match(message, /storage cannot be changed once set/);
  });

  it('kubectl get gossipclusters shows the printer columns; discovery lists the short name', () => {
    // The full name: other tests may install look-alike CRDs in other groups with `gsc` too.
    const out = kubectl('-n', namespace, 'get', 'gossipclusters.gossip.dev');
    assert.match(out.split('\n')[0] ?? '', /^NAME\s+READY\s+GATEWAYS\s+CONNECTIONS\s+AGE$/);
    assert.match(out, /^defaults\s/m);
    const resources = kubectl('api-resources', '--api-group=gossip.dev', '--no-headers');
    assert.match(
      resources,
      /^gossipclusters\s+gsc\s+gossip\.dev\/v1alpha1\s+true\s+GossipCluster$/m,
    );
  });
});
