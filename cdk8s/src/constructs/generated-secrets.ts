/**
 * The Secrets whose values are random: the JWT signing key and the credentials of each managed
 * backing service. The operator creates each one once, if absent, and never overwrites it; the
 * workload constructs only reference them by name. The static synth path emits them only when
 * asked (`--with-secrets`).
 */
import { randomBytes } from 'node:crypto';
import type { BackingServiceName } from '../api/v1alpha1.js';
import type { ClusterContext } from './context.js';
import type { KubeObject } from './kube-object.js';
import {
  generatedSecretNames,
  jwtKey,
  labelsFor,
  namesFor,
  ports,
  serviceHost,
  urlKey,
} from './naming.js';

/** Source of randomness (injectable so tests are deterministic). */
export type RandomBytes = (size: number) => Buffer;

export type GeneratedSecretKind = 'jwt' | BackingServiceName;

/** Which generated Secrets a cluster needs: the JWT key, plus one per managed backing service. */
export function neededGeneratedSecrets(ctx: ClusterContext): GeneratedSecretKind[] {
  const services: BackingServiceName[] = ['rabbitmq', 'mongodb', 'redis'];
  return ['jwt', ...services.filter((s) => ctx.spec[s].managed !== undefined)];
}

/** One generated Secret with fresh random values, as a plain object (`stringData`). */
export function buildGeneratedSecret(
  ctx: ClusterContext,
  which: GeneratedSecretKind,
  random: RandomBytes = randomBytes,
): KubeObject {
  const secretName = generatedSecretNames(ctx.name)[which];
  const password = () => random(24).toString('base64url');
  const host = (s: BackingServiceName) => serviceHost(namesFor(ctx.name).store(s), ctx.namespace);
  let data: Record<string, string>;
  switch (which) {
    case 'jwt':
      data = { [jwtKey]: random(32).toString('base64') };
      break;
    case 'rabbitmq': {
      const pw = password();
      data = {
        username: 'gossip',
        password: pw,
        'erlang-cookie': random(32).toString('hex'),
        [urlKey]: `amqp://gossip:${pw}@${host('rabbitmq')}:${ports.rabbitmq}`,
      };
      break;
    }
    case 'mongodb': {
      const pw = password();
      data = {
        username: 'gossip',
        password: pw,
        [urlKey]: `mongodb://gossip:${pw}@${host('mongodb')}:${ports.mongodb}/?authSource=admin`,
      };
      break;
    }
    case 'redis': {
      const pw = password();
      data = { password: pw, [urlKey]: `redis://:${pw}@${host('redis')}:${ports.redis}` };
      break;
    }
  }
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: secretName,
      namespace: ctx.namespace,
      // The JWT key belongs to api and gateway alike; label it with the one that signs.
      labels: labelsFor(ctx.name, which === 'jwt' ? 'api' : which),
    },
    type: 'Opaque',
    stringData: data,
  };
}

/** Every generated Secret the cluster needs, with fresh random values. */
export function buildGeneratedSecrets(
  ctx: ClusterContext,
  random: RandomBytes = randomBytes,
): KubeObject[] {
  return neededGeneratedSecrets(ctx).map((which) => buildGeneratedSecret(ctx, which, random));
}
