/**
 * Installing the CRD with @kubernetes/client-node. `KubernetesObjectApi` serializes a known
 * kind through its generated model, which reads the model's property names: a plain
 * CustomResourceDefinition object loses `default` (`_default`), `enum` (`_enum`) and
 * `x-kubernetes-validations` (`xKubernetesValidations`), so the CRD would install without its
 * defaults and rules. `loadYaml` converts to the model names first; this does it for you.
 */
import { PatchStrategy, loadYaml } from '@kubernetes/client-node';
import type { KubernetesObject, KubernetesObjectApi } from '@kubernetes/client-node';
import { renderCrdYaml } from './crd-cli.js';

/** The GossipCluster CRD in the client's model form, safe to pass to `KubernetesObjectApi`. */
export function gossipClusterCrdForClient(): KubernetesObject {
  return loadYaml<KubernetesObject>(renderCrdYaml());
}

/**
 * Server-side applies the CRD (idempotent, `force`) and waits until it is Established.
 * @param fieldManager the server-side apply field manager
 * @param timeoutMs how long to wait for Established
 * @default timeoutMs 30000
 */
export async function installGossipClusterCrd(
  client: KubernetesObjectApi,
  fieldManager: string,
  timeoutMs = 30_000,
): Promise<void> {
  const crd = gossipClusterCrdForClient();
  await client.patch(crd, undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const live = (await client.read({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: crd.metadata!.name! },
    })) as { status?: { conditions?: { type: string; status: string }[] } };
    if (live.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`CRD ${crd.metadata!.name} not Established within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
