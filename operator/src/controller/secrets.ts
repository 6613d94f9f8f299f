/**
 * Generated Secrets (the JWT signing key, managed RabbitMQ/MongoDB/Redis credentials):
 * created once with random values and never overwritten, since rotating them behind the
 * back of running pods and existing data would lock everyone out. Create is the only
 * write; 409 means another replica or an earlier reconcile created it first.
 *
 * The JWT Secret is owned by the cluster. Credentials Secrets are owned only under
 * `dataRetentionPolicy: Delete`; under `Retain` they stay with the retained volumes, so a
 * cluster re-created with the same name can open its old data.
 */
import type { CoreV1Api, KubernetesObject, V1Secret } from '@kubernetes/client-node';
import {
  buildGeneratedSecret,
  generatedSecretNames,
  neededGeneratedSecrets,
  type ClusterContext,
  type OwnerReference,
} from '@gossip/cdk8s';
import { isConflict } from '../kube/errors.js';

export interface SecretDeps {
  core: CoreV1Api;
  /** The informer cache of Secrets (`namespace/name` keys). */
  cached(key: string): KubernetesObject | undefined;
  onCreated(name: string): void;
}

/** A Secret the pods need does not exist (yet): retried with backoff, not permanent. */
export class MissingSecretError extends Error {}

/**
 * Ensures every generated Secret exists and returns the resourceVersion of each Secret
 * the pods read (generated and external), for the pod templates' config hash.
 */
export async function ensureSecrets(
  deps: SecretDeps,
  ctx: ClusterContext,
  owner: OwnerReference,
): Promise<Record<string, string>> {
  const versions: Record<string, string> = {};
  const names = generatedSecretNames(ctx.name);
  for (const which of neededGeneratedSecrets(ctx)) {
    const name = names[which];
    const cached = deps.cached(`${ctx.namespace}/${name}`);
    if (cached?.metadata?.resourceVersion) {
      versions[name] = cached.metadata.resourceVersion;
      continue;
    }
    const body = buildGeneratedSecret(ctx, which) as V1Secret;
    const owned = which === 'jwt' || ctx.spec.dataRetentionPolicy === 'Delete';
    if (owned) body.metadata = { ...body.metadata, ownerReferences: [{ ...owner }] };
    try {
      const created = await deps.core.createNamespacedSecret({ namespace: ctx.namespace, body });
      versions[name] = created.metadata?.resourceVersion ?? '';
      deps.onCreated(name);
    } catch (err) {
      if (!isConflict(err)) throw err;
      const existing = await deps.core.readNamespacedSecret({ name, namespace: ctx.namespace });
      versions[name] = existing.metadata?.resourceVersion ?? '';
    }
  }
  for (const service of ['rabbitmq', 'mongodb', 'redis'] as const) {
    const ref = ctx.spec[service].external?.secretRef;
    if (!ref) continue;
    const secret = deps.cached(`${ctx.namespace}/${ref.name}`);
    if (!secret) {
      throw new MissingSecretError(
        `external ${service} Secret ${ctx.namespace}/${ref.name} does not exist`,
      );
    }
    versions[ref.name] = secret.metadata?.resourceVersion ?? '';
  }
  return versions;
}
