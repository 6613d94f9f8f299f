/**
 * Test harness for the api: a real app on the test environment's FerretDB and Redis, in
 * a database and Redis prefix of its own, with its logs captured for assertions.
 */
import { generateKeyPairSync } from 'node:crypto';
import { Writable } from 'node:stream';
import { exportPublicKeys, generateIdentityKeys } from '@gossip/crypto';
import type { PublicKeys, Session } from '@gossip/protocol';
import { createLogger, generateSigningJwk } from '@gossip/servicekit';
import { testEnv, uniqueName } from '@gossip/testenv';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { Redis } from 'ioredis';
import { MongoClient, type Db } from 'mongodb';
import { buildApp, type ApiApp, type AppDeps } from '../src/app.js';
import { loadConfig, type ApiConfig } from '../src/config.js';

export interface Harness {
  /** The public app; `app.ops` is its ops listener (health, metrics, docs). */
  app: ApiApp;
  db: Db;
  redis: Redis;
  config: ApiConfig;
  env: Record<string, string>;
  logs: () => string;
  close: () => Promise<void>;
}

/** Environment for an api bound to this run's servers, in fresh namespaces. */
export function apiEnv(overrides: Record<string, string> = {}): Record<string, string> {
  const env = testEnv();
  return {
    API_MONGO_URL: env.mongoUrl,
    API_MONGO_DB: uniqueName('api').replace(/-/g, '_'),
    API_REDIS_URL: env.redisUrl,
    API_REDIS_PREFIX: `${uniqueName('api')}:`,
    API_JWT_PRIVATE_KEYS: JSON.stringify({ keys: [generateSigningJwk('test')] }),
    // Fast hashing keeps the tests quick; the cost parameter is exercised, not its value.
    API_SCRYPT_LOG_N: '12',
    API_REGISTER_MAX_PER_IP: '10000',
    API_LOGIN_MAX_PER_IP: '10000',
    API_LOG_LEVEL: 'debug',
    // A free port for the ops listener, so api processes of parallel tests never collide.
    API_OPS_PORT: '0',
    ...overrides,
  };
}

export async function startApi(
  overrides: Record<string, string> = {},
  deps: Pick<AppDeps, 'now' | 'passwords'> = {},
): Promise<Harness> {
  const env = apiEnv(overrides);
  const config = loadConfig(env);
  let text = '';
  const logger = createLogger({
    name: 'api',
    level: config.logLevel,
    destination: new Writable({
      write(chunk: Buffer, _enc, cb) {
        text += chunk.toString('utf8');
        cb();
      },
    }),
  });
  const mongo = new MongoClient(config.mongoUrl);
  await mongo.connect();
  const db = mongo.db(config.mongoDb);
  const redis = new Redis(config.redisUrl);
  const app = await buildApp(config, { db, redis, logger, ...deps });
  await app.ready();
  return {
    app,
    db,
    redis,
    config,
    env,
    logs: () => text,
    close: async () => {
      await app.close();
      await db.dropDatabase().catch(() => undefined);
      await mongo.close();
      const keys = await redis.keys(`${config.redisPrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    },
  };
}

let cachedKeys: Promise<PublicKeys[]> | undefined;

/** Drops the database an api process ran with (`apiEnv`'s API_MONGO_URL and API_MONGO_DB). */
export async function dropApiDatabase(env: Record<string, string>): Promise<void> {
  const mongo = new MongoClient(env.API_MONGO_URL!);
  await mongo
    .db(env.API_MONGO_DB)
    .dropDatabase()
    .catch(() => undefined);
  await mongo.close();
}

/** Two real key sets (RSA-OAEP-3072 + Ed25519), generated once per test file. */
export function keySets(): Promise<PublicKeys[]> {
  cachedKeys ??= Promise.all([generateIdentityKeys(), generateIdentityKeys()]).then((ids) =>
    Promise.all(ids.map((id) => exportPublicKeys(id))),
  );
  return cachedKeys;
}

/** A syntactically fine but too weak (RSA-2048) wrapping key. */
export function weakRsaSpki(): string {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
}

export const PASSWORD = 'correct horse battery staple';

export async function register(
  app: FastifyInstance,
  username: string,
  keys: PublicKeys,
  password = PASSWORD,
): Promise<Session> {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/auth/register',
    payload: { username, password, keys },
  });
  if (res.statusCode !== 201)
    throw new Error(`register ${username}: ${res.statusCode} ${res.body}`);
  return res.json<Session>();
}

/** POST /v1/auth/login as from `remoteAddress` (the login throttle keys on it). */
export function login(
  app: FastifyInstance,
  username: string,
  password: string,
  remoteAddress = '10.0.0.1',
) {
  return app.inject({
    method: 'POST',
    url: '/v1/auth/login',
    payload: { username, password },
    remoteAddress,
  });
}

/** The error of a refused access or refresh token. */
export const INVALID_TOKEN = { status: 401, code: 'invalid_token' } as const;

export function bearer(session: Session | string): Record<string, string> {
  const token = typeof session === 'string' ? session : session.accessToken;
  return { authorization: `Bearer ${token}` };
}

/** `method url` on `app` as `session`'s user, with a JSON `payload` when one is given. */
export function call(
  app: FastifyInstance,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  session: Session | string,
  payload?: object,
): Promise<LightMyRequestResponse> {
  return app.inject({ method, url, headers: bearer(session), payload });
}

/** Asserts-friendly view of an error response. */
export function errorOf(res: LightMyRequestResponse): { status: number; code: string } {
  const body = res.json<{ error?: { code?: string } }>();
  return { status: res.statusCode, code: body.error?.code ?? '(none)' };
}
