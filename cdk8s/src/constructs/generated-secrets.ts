/**
 * The Secrets whose values are random: the access-token signing key pair and the credentials
 * of each managed backing service. The operator creates each one once, if absent, and never
 * overwrites it; the workload constructs only reference them by name. The static synth path
 * emits them only when asked (`--with-secrets`).
 *
 * The key pair is two Secrets: `jwt` holds the api's private JWK set, `jwt-public` its public
 * half, derived from `jwt` (so it is built after it), for the gateways.
 */
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import type { BackingServiceName } from '../api/v1alpha1.js';
import type { ClusterContext } from './context.js';
import type { KubeObject } from './kube-object.js';
import type { Component } from './naming.js';
import {
  generatedSecretNames,
  jwtKey,
  jwtPublicKey,
  labelsFor,
  namesFor,
  passwordKeyOf,
  ports,
  serviceHost,
  urlKey,
  urlKeyOf,
} from './naming.js';
import { rabbitmqVhost, storeClients, storeUserName } from './store-rights.js';

/** Source of randomness (injectable so tests are deterministic). */
export type RandomBytes = (size: number) => Buffer;

export type GeneratedSecretKind =
  'jwt' | 'jwt-public' | BackingServiceName | 'rabbitmq-users' | 'redis-users';

/**
 * Which generated Secrets a cluster needs: the key pair (`jwt` before `jwt-public`, which is
 * derived from it), plus one per managed backing service and, for RabbitMQ and Redis, one
 * with the per-component users. The users are a Secret of their own so that a cluster made
 * before they existed gets them: the operator creates what is absent and never rewrites.
 */
export function neededGeneratedSecrets(ctx: ClusterContext): GeneratedSecretKind[] {
  const out: GeneratedSecretKind[] = ['jwt', 'jwt-public'];
  if (ctx.spec.rabbitmq.managed) out.push('rabbitmq', 'rabbitmq-users');
  if (ctx.spec.mongodb.managed) out.push('mongodb');
  if (ctx.spec.redis.managed) out.push('redis', 'redis-users');
  return out;
}

/** The store a generated Secret belongs to (its component label). */
function componentOf(which: GeneratedSecretKind): Component {
  // The private keys are the api's; the public keys are what gateways read.
  if (which === 'jwt') return 'api';
  if (which === 'jwt-public') return 'gateway';
  if (which === 'rabbitmq-users') return 'rabbitmq';
  if (which === 'redis-users') return 'redis';
  return which;
}

/** PKCS#8 DER prefix of an Ed25519 private key; the 32-byte seed follows it. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * A private JWK set of one Ed25519 key from a 32-byte seed, in the shape the api's
 * `API_JWT_PRIVATE_KEYS` takes (`@gossip/servicekit` parses it). The kid names the day.
 */
function privateKeySet(seed: Buffer, now: Date): string {
  const key = createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const { x, d } = key.export({ format: 'jwk' });
  const kid = `${now.toISOString().slice(0, 10)}-${seed.subarray(0, 4).toString('hex')}`;
  return JSON.stringify({
    keys: [{ kty: 'OKP', crv: 'Ed25519', x, d, kid, alg: 'EdDSA', use: 'sig' }],
  });
}

/**
 * The public half of a private JWK set: every key without `d`. Throws when `text` is not a
 * JWK set of Ed25519 private keys.
 */
export function publicJwkSet(text: string): string {
  const set = JSON.parse(text) as { keys: Array<Record<string, string>> };
  return JSON.stringify({
    keys: set.keys.map((k) => {
      const pub = createPublicKey(createPrivateKey({ key: k as never, format: 'jwk' }));
      return {
        kty: 'OKP',
        crv: 'Ed25519',
        x: pub.export({ format: 'jwk' }).x,
        kid: k.kid,
        alg: 'EdDSA',
        use: 'sig',
      };
    }),
  });
}

/** The private JWK set held by a `jwt` Secret as read back (`data`, base64) or built. */
export function privateKeysOf(secret: {
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}): string | undefined {
  const fromData = secret.data?.[jwtKey];
  if (fromData !== undefined) return Buffer.from(fromData, 'base64').toString('utf8');
  return secret.stringData?.[jwtKey];
}

/** One generated Secret with fresh random values, as a plain object (`stringData`). */
export function buildGeneratedSecret(
  ctx: ClusterContext,
  which: GeneratedSecretKind,
  random: RandomBytes = randomBytes,
  /** For `jwt-public`: the `jwt` Secret it is derived from. */
  privateSecret?: { data?: Record<string, string>; stringData?: Record<string, string> },
): KubeObject {
  const secretName = generatedSecretNames(ctx.name)[which];
  const password = () => random(24).toString('base64url');
  const host = (s: BackingServiceName) => serviceHost(namesFor(ctx.name).store(s), ctx.namespace);
  let data: Record<string, string>;
  switch (which) {
    case 'jwt':
      data = { [jwtKey]: privateKeySet(random(32), new Date()) };
      break;
    case 'jwt-public': {
      const keys = privateSecret && privateKeysOf(privateSecret);
      if (keys === undefined) throw new Error('jwt-public is derived from the jwt Secret: pass it');
      data = { [jwtPublicKey]: publicJwkSet(keys) };
      break;
    }
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
    case 'rabbitmq-users':
      data = {};
      for (const c of storeClients.rabbitmq) {
        const pw = password();
        data[passwordKeyOf(c)] = pw;
        data[urlKeyOf(c)] =
          `amqp://${storeUserName(c)}:${pw}@${host('rabbitmq')}:${ports.rabbitmq}/${rabbitmqVhost}`;
      }
      break;
    case 'redis-users':
      data = { [passwordKeyOf('replication')]: password() };
      for (const c of storeClients.redis) {
        const pw = password();
        data[passwordKeyOf(c)] = pw;
        data[urlKeyOf(c)] = `redis://${storeUserName(c)}:${pw}@${host('redis')}:${ports.redis}`;
      }
      break;
  }
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: secretName,
      namespace: ctx.namespace,
      labels: labelsFor(ctx.name, componentOf(which)),
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
  const out: KubeObject[] = [];
  for (const which of neededGeneratedSecrets(ctx)) {
    const jwt = out.find((o) => o.metadata.name === generatedSecretNames(ctx.name).jwt);
    out.push(
      buildGeneratedSecret(ctx, which, random, jwt as { stringData?: Record<string, string> }),
    );
  }
  return out;
}
