/**
 * What every construct of one cluster needs: its name, namespace, defaulted spec and the Secret
 * versions the operator observed. Built once by the chart, passed down as a prop.
 */
import { storeUsers } from '../api/backing-services.js';
import type { BackingServiceName, ResolvedGossipClusterSpec } from '../api/v1alpha1.js';
import type { AppComponent } from './naming.js';
import { generatedSecretNames, jwtKey, jwtPublicKey, urlKey, urlKeyOf } from './naming.js';

/** One cluster, resolved. */
export interface ClusterContext {
  /** metadata.name of the GossipCluster. */
  readonly name: string;
  /** Namespace of the GossipCluster and of everything it owns. */
  readonly namespace: string;
  /** The spec with every schema default applied. */
  readonly spec: ResolvedGossipClusterSpec;
  /**
   * A version string (the operator passes `metadata.resourceVersion`) per Secret name that pods
   * read; folded into the config hash so that a changed Secret rolls the pods that read it.
   */
  readonly secretVersions: Readonly<Record<string, string>>;
}

/** A key of a Secret, as env vars reference it. */
export interface SecretKeySelector {
  readonly name: string;
  readonly key: string;
}

/**
 * Where `component`'s connection URL of a backing service lives: for an external store the
 * component's own Secret key (`external.components.<component>`) if given, else the store's
 * `external.secretRef`; for a managed one the component's own user in the generated users
 * Secret (RabbitMQ, Redis) or the generated Secret (MongoDB, still one user).
 */
export function connectionSecret(
  ctx: ClusterContext,
  service: BackingServiceName,
  component: AppComponent,
): SecretKeySelector {
  const external = ctx.spec[service].external;
  if (external) {
    const own = external.components as Partial<Record<AppComponent, SecretKeySelector>> | undefined;
    const ref = own?.[component] ?? external.secretRef;
    return { name: ref.name, key: ref.key };
  }
  const names = generatedSecretNames(ctx.name);
  if (service === 'rabbitmq') return { name: names['rabbitmq-users'], key: urlKeyOf(component) };
  if (service === 'redis') return { name: names['redis-users'], key: urlKeyOf(component) };
  return { name: names[service], key: urlKey };
}

/**
 * The external Secrets the cluster's pods read (each name once, by backing service): the
 * operator reads exactly these by name, for their versions in the config hash.
 */
export function externalStoreSecrets(ctx: ClusterContext): { service: string; name: string }[] {
  const out: { service: string; name: string }[] = [];
  for (const service of ['rabbitmq', 'mongodb', 'redis'] as const) {
    if (!ctx.spec[service].external) continue;
    const names = new Set(storeUsers[service].map((c) => connectionSecret(ctx, service, c).name));
    for (const name of names) out.push({ service, name });
  }
  return out;
}

/** The access-token signing keys (private JWK set): the api's alone. */
export function jwtSecret(ctx: ClusterContext): SecretKeySelector {
  return { name: generatedSecretNames(ctx.name).jwt, key: jwtKey };
}

/** The access-token verification keys (public JWK set): what gateways read. */
export function jwtPublicSecret(ctx: ClusterContext): SecretKeySelector {
  return { name: generatedSecretNames(ctx.name)['jwt-public'], key: jwtPublicKey };
}

/** The image of an app component: a per-component override, else registry/repository/c:tag. */
export function appImage(ctx: ClusterContext, component: AppComponent): string {
  const image = ctx.spec.image;
  const override = image.components?.[component];
  if (override !== undefined) return override;
  return `${image.registry}/${image.repository}/${component}:${image.tag ?? ctx.spec.version}`;
}
