/**
 * Generated Secrets (the JWT signing key, managed RabbitMQ/MongoDB/Redis credentials):
 * created once with random values and never overwritten, since rotating them behind the
 * back of running pods and existing data would lock everyone out. Create is the only
 * write; 409 means another replica or an earlier reconcile created it first.
 *
 * The JWT Secret is owned by the cluster. Credentials Secrets are owned only under
 * `dataRetentionPolicy: Delete`; under `Retain` they stay with the retained volumes, so a
 * cluster re-created with the same name can open its old data.
 *
 * Least privilege: every Secret is read by name (GET), never listed or watched, so the
 * operator's RBAC needs only `get` and `create` on Secrets and it never holds a cache of
 * every Secret in a namespace. A changed external Secret is therefore noticed at the next
 * reconcile: a watch event on the cluster or its children, the periodic resync, or the
 * timed re-reconcile a cluster with external Secrets asks for (`OPERATOR_SECRET_RECHECK_SECONDS`).
 */
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import {
  buildGeneratedSecret,
  externalStoreSecrets,
  generatedSecretNames,
  neededGeneratedSecrets,
  type ClusterContext,
  type OwnerReference,
} from '@gossip/cdk8s';
import { isConflict, isNotFound } from '../kube/errors.js';

export interface SecretDeps {
  core: CoreV1Api;
  onCreated(name: string): void;
}

/** The Secret `namespace/name` by name, or undefined when it does not exist. */
async function readSecret(
  core: CoreV1Api,
  namespace: string,
  name: string,
): Promise<V1Secret | undefined> {
  try {
    return await core.readNamespacedSecret({ name, namespace });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
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
  // The signing keys as stored: the public Secret (what gateways read) is derived from them.
  let jwt: V1Secret | undefined;
  for (const which of neededGeneratedSecrets(ctx)) {
    const name = names[which];
    const existing = await readSecret(deps.core, ctx.namespace, name);
    if (which === 'jwt') jwt = existing;
    if (existing?.metadata?.resourceVersion) {
      versions[name] = existing.metadata.resourceVersion;
      continue;
    }
    const body = buildGeneratedSecret(ctx, which, undefined, jwt) as V1Secret;
    const owned =
      which === 'jwt' || which === 'jwt-public' || ctx.spec.dataRetentionPolicy === 'Delete';
    if (owned) body.metadata = { ...body.metadata, ownerReferences: [{ ...owner }] };
    try {
      const created = await deps.core.createNamespacedSecret({ namespace: ctx.namespace, body });
      if (which === 'jwt') jwt = created;
      versions[name] = created.metadata?.resourceVersion ?? '';
      deps.onCreated(name);
    } catch (err) {
      if (!isConflict(err)) throw err;
      const raced = await deps.core.readNamespacedSecret({ name, namespace: ctx.namespace });
      if (which === 'jwt') jwt = raced;
      versions[name] = raced.metadata?.resourceVersion ?? '';
    }
  }
  for (const { service, name } of externalSecretNames(ctx)) {
    const secret = await readSecret(deps.core, ctx.namespace, name);
    if (!secret) {
      throw new MissingSecretError(
        `external ${service} Secret ${ctx.namespace}/${name} does not exist`,
      );
    }
    versions[name] = secret.metadata?.resourceVersion ?? '';
  }
  return versions;
}

/**
 * The external Secrets the cluster's pods read, by backing service: each store's secretRef and
 * the per-component ones (`external.components`), as cdk8s's builders reference them.
 */
export function externalSecretNames(ctx: ClusterContext): { service: string; name: string }[] {
  return externalStoreSecrets(ctx);
}
