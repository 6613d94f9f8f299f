/**
 * The operator works with nothing more than the chart's default RBAC: `helm install` with
 * default values (a Role in the release namespace, no ClusterRole), the operator run as a real
 * process with a token of the ServiceAccount the chart created, reconciling a GossipCluster with
 * an external Secret. The same token is refused every Secret list or watch, in its namespace
 * and cluster-wide, and anything in another namespace.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { testEnv, uniqueName, type ManagedProcess } from '@gossip/testenv';
import { chartDir, helm, kubectl, run, startChartOperator, type RunResult } from '../src/index.js';

const env = testEnv();
const ns = uniqueName('lp');
const other = uniqueName('lp-other');
const scratch = join(env.dir, 'scratch', ns);
const cluster = 'chat';
let kubeconfig = '';
let operator: ManagedProcess | undefined;

/** kubectl as the operator's ServiceAccount (its token, not impersonation). */
function asOperator(args: string[]): RunResult {
  return run(env.bin.kubectl, ['--kubeconfig', kubeconfig, ...args], { allowFailure: true });
}

async function until<T>(what: string, check: () => T | undefined | false, ms = 60_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

describe('the operator with the chart default (namespaced) RBAC', () => {
  before(async () => {
    mkdirSync(scratch, { recursive: true });
    kubectl(['apply', '--server-side', '--force-conflicts', '-f', join(chartDir, 'crds')]);
    kubectl(['wait', '--for=condition=Established', 'crd/gossipclusters.gossip.dev']);
    kubectl(['create', 'namespace', ns]);
    kubectl(['create', 'namespace', other]);
    kubectl(['-n', other, 'create', 'secret', 'generic', 'bait', '--from-literal=k=v']);
    kubectl(['-n', ns, 'create', 'secret', 'generic', 'mongo-conn', '--from-literal=url=x']);
    helm(['install', 'gossip', chartDir, '-n', ns]);
    ({ operator, kubeconfig } = await startChartOperator({
      namespace: ns,
      identity: 'least-privilege-test',
      scratch,
      env: { OPERATOR_RESYNC_SECONDS: '2' },
    }));
  });

  after(async () => {
    await operator?.stop();
    helm(['uninstall', 'gossip', '-n', ns], { allowFailure: true });
    for (const n of [ns, other]) {
      kubectl(['delete', 'namespace', n, '--wait=false'], { allowFailure: true });
    }
  });

  test('helm install with default values creates no cluster-scoped RBAC', () => {
    const res = kubectl(['get', 'clusterrole', `gossip-operator-${ns}`], { allowFailure: true });
    assert.equal(res.status, 1);
    assert.match(res.stderr, /NotFound/);
    kubectl(['-n', ns, 'get', 'role', 'gossip-operator']);
  });

  test('it reconciles a GossipCluster: children applied, Secrets generated, external one read by name, status written', async () => {
    kubectl(['apply', '-n', ns, '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'gossip.dev/v1alpha1',
        kind: 'GossipCluster',
        metadata: { name: cluster },
        spec: { mongodb: { external: { secretRef: { name: 'mongo-conn', key: 'url' } } } },
      }),
    });
    const has = (args: string[]) => kubectl(['-n', ns, 'get', ...args], { allowFailure: true });
    for (const o of [
      'deployment/chat-api',
      'deployment/chat-gateway',
      'deployment/chat-engine',
      'statefulset/chat-rabbitmq',
      'statefulset/chat-redis',
      'secret/chat-jwt',
      'secret/chat-rabbitmq',
      'secret/chat-redis',
    ]) {
      await until(o, () => has([o]).status === 0);
    }
    await until('status with observedGeneration and conditions', () => {
      const c = JSON.parse(has(['gossipcluster', cluster, '-o', 'json']).stdout || '{}') as {
        metadata?: { generation?: number };
        status?: { observedGeneration?: number; conditions?: { type: string }[] };
      };
      return (
        c.status?.observedGeneration === c.metadata?.generation &&
        c.status?.conditions?.some((x) => x.type === 'Progressing')
      );
    });
    // The engine reads the external Secret: its version is in the pod template's hash.
    const hash = () =>
      JSON.parse(has(['deployment', 'chat-engine', '-o', 'json']).stdout).spec.template.metadata
        .annotations['gossip.dev/config-hash'] as string;
    const first = hash();
    kubectl(['-n', ns, 'patch', 'secret', 'mongo-conn', '-p', '{"stringData":{"url":"y"}}']);
    await until('a new config hash after the external Secret changed', () => hash() !== first);
    assert.doesNotMatch(operator?.output() ?? '', /forbidden|"status":403|\b403:/i);
  });

  test('its token is refused every Secret list and watch, and anything outside its namespace', () => {
    const refused = (args: string[]) => {
      const res = asOperator(args);
      assert.notEqual(res.status, 0, `allowed: ${args.join(' ')}`);
      assert.match(res.stderr, /forbidden/i, args.join(' '));
    };
    refused(['-n', ns, 'get', 'secrets']);
    refused(['get', 'secrets', '--all-namespaces']);
    refused(['-n', ns, 'get', 'secrets', '--watch', '--request-timeout=5s']);
    refused(['-n', other, 'get', 'secret', 'bait']);
    refused(['-n', other, 'create', 'serviceaccount', 'intruder']);
    refused(['get', 'gossipclusters.gossip.dev', '--all-namespaces']);
    // What it does use: one Secret by name in its namespace.
    assert.equal(asOperator(['-n', ns, 'get', 'secret', 'mongo-conn']).status, 0);
  });
});
