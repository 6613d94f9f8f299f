/** Shared test inputs: a GossipCluster with a spec, and its resolved context. */
import { readFileSync, writeFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { resolveCluster } from '../src/build.js';
import type { GossipCluster, GossipClusterSpec } from '../src/api/v1alpha1.js';
import type { ClusterContext } from '../src/constructs/context.js';
import type { KubeObject } from '../src/constructs/kube-object.js';

/** A GossipCluster named `name` in namespace `chat`. */
export function cluster(spec: GossipClusterSpec = {}, name = 'demo'): GossipCluster {
  return {
    apiVersion: 'gossip.dev/v1alpha1',
    kind: 'GossipCluster',
    metadata: { name, namespace: 'chat' },
    spec,
  };
}

/** The defaulted context the constructs take. */
export function context(
  spec: GossipClusterSpec = {},
  secretVersions: Record<string, string> = {},
): ClusterContext {
  return resolveCluster(cluster(spec), { secretVersions });
}

/** The one object of `kind` named `name`, failing the test when absent or repeated. */
export function find(objects: readonly KubeObject[], kind: string, name: string): KubeObject {
  const hits = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  assert.equal(hits.length, 1, `expected exactly one ${kind}/${name}, got ${hits.length}`);
  return hits[0] as KubeObject;
}

/** YAML as committed in snapshots (also what prettier leaves alone). */
export function snapshotYaml(objects: readonly unknown[]): string {
  return objects.map((o) => stringify(o, { lineWidth: 0, singleQuote: true })).join('---\n');
}

/**
 * Compares `actual` with the committed snapshot file; rewrites it only when UPDATE_SNAPSHOTS=1
 * (then review the diff before committing).
 */
export function matchSnapshot(file: string, actual: string): void {
  if (process.env.UPDATE_SNAPSHOTS === '1') {
    writeFileSync(file, actual);
    return;
  }
  let expected: string;
  try {
    expected = readFileSync(file, 'utf8');
  } catch {
    assert.fail(`no snapshot ${file}; run with UPDATE_SNAPSHOTS=1 to create it`);
  }
  assert.equal(actual, expected, `snapshot ${file} differs; UPDATE_SNAPSHOTS=1 rewrites it`);
}

/** The pod template spec of a Deployment or StatefulSet object. */
export function podSpec(workload: KubeObject): {
  containers: {
    name: string;
    env?: { name: string; valueFrom?: unknown; value?: string }[];
    envFrom?: unknown[];
    [k: string]: unknown;
  }[];
  [k: string]: unknown;
} {
  const spec = workload.spec as { template: { spec: ReturnType<typeof podSpec> } };
  return spec.template.spec;
}
