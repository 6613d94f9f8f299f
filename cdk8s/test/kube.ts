/** Test helpers for the real kube-apiserver of the test environment. */
import assert from 'node:assert/strict';
import { ApiException, KubeConfig, KubernetesObjectApi } from '@kubernetes/client-node';
import { testEnv } from '@gossip/testenv';
import { installGossipClusterCrd } from '../src/crd-install.js';

export const fieldManager = 'gossip-cdk8s-test';

/** A client for the test control plane (admin kubeconfig). */
export function kubeClient(): KubernetesObjectApi {
  const kc = new KubeConfig();
  kc.loadFromFile(testEnv().kubeconfig);
  return KubernetesObjectApi.makeApiClient(kc);
}

/**
 * Installs the generated CRD (idempotent, so other test files and the operator's tests may do
 * the same). Never deleted here: it is cluster-scoped and shared with tests running alongside.
 */
export async function installCrd(client: KubernetesObjectApi): Promise<void> {
  await installGossipClusterCrd(client, fieldManager);
}

/** The API server's error message of a rejected request (fails the test if it succeeded). */
export async function rejection(
  request: Promise<unknown>,
): Promise<{ code: number; message: string }> {
  try {
    await request;
  } catch (err) {
    assert.ok(err instanceof ApiException, `expected an ApiException, got ${String(err)}`);
    const body = (typeof err.body === 'string' ? JSON.parse(err.body) : err.body) as {
      message?: string;
    };
    return { code: err.code, message: body.message ?? String(err.body) };
  }
  assert.fail('expected the API server to reject the request');
}

/** Creates a namespace for real; returns a function deleting it (and all in it). */
export async function createNamespace(
  client: KubernetesObjectApi,
  name: string,
): Promise<() => Promise<void>> {
  const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
  await client.create(ns);
  return async () => {
    await client.delete(ns).catch(() => undefined);
  };
}

/**
 * Asserts every field of `expected` is in `actual` with the same value (the server may add
 * more), so nothing we send is dropped by the client's serializer or pruned by the server.
 */
export function assertContains(actual: unknown, expected: unknown, path = ''): void {
  const zero =
    expected === 0 ||
    expected === false ||
    expected === '' ||
    (typeof expected === 'object' && expected !== null && Object.keys(expected).length === 0);
  // Kubernetes omits zero values (omitempty): sending 0, false, [] or {} equals sending nothing.
  if (zero && actual === undefined) return;
  if (typeof expected !== 'object' || expected === null) {
    assert.deepStrictEqual(actual, expected, `at ${path || '/'}`);
    return;
  }
  assert.ok(typeof actual === 'object' && actual !== null, `missing object at ${path || '/'}`);
  if (Array.isArray(expected)) {
    assert.ok(
      Array.isArray(actual) && actual.length === expected.length,
      `array length at ${path}`,
    );
  }
  for (const [key, value] of Object.entries(expected)) {
    assertContains((actual as Record<string, unknown>)[key], value, `${path}/${key}`);
  }
}
