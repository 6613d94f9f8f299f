/**
 * Runs the real api (services/api) as a child process on the test environment's
 * FerretDB and Redis, in a database and Redis prefix of its own, for the SDK and CLI
 * integration tests.
 */
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';
import { Redis } from 'ioredis';
import { generateKeySets } from '@gossip/servicekit';
import { freePort, startProcess, testEnv, uniqueName, type ManagedProcess } from '@gossip/testenv';

/** The repository root (this file is packages/client/test/). */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export interface RunningApi {
  url: string;
  proc: ManagedProcess;
  env: Record<string, string>;
  /** Stops the process and drops its database and Redis keys. */
  stop: () => Promise<void>;
}

export async function startApiProcess(overrides: Record<string, string> = {}): Promise<RunningApi> {
  const te = testEnv();
  const port = await freePort();
  const env: Record<string, string> = {
    API_PORT: String(port),
    API_HOST: '127.0.0.1',
    // The ops listener (metrics) is not used here: any free port.
    API_OPS_PORT: '0',
    API_MONGO_URL: te.mongoUrl,
    API_MONGO_DB: uniqueName('client').replace(/-/g, '_'),
    API_REDIS_URL: te.redisUrl,
    API_REDIS_PREFIX: `${uniqueName('client')}:`,
    API_JWT_PRIVATE_KEYS: generateKeySets('test').privateKeys,
    API_SCRYPT_LOG_N: '12',
    API_LOG_LEVEL: 'debug',
    ...overrides,
  };
  const url = `http://127.0.0.1:${port}`;
  const proc = await startProcess({
    command: process.execPath,
    args: ['--import', 'tsx', 'services/api/src/main.ts'],
    cwd: repoRoot,
    env,
    cleanEnv: true,
    readyUrl: `${url}/readyz`,
    readyTimeoutMs: 60_000,
  });
  return {
    url,
    proc,
    env,
    stop: async () => {
      await proc.stop();
      const mongo = new MongoClient(te.mongoUrl);
      try {
        await mongo.db(env.API_MONGO_DB as string).dropDatabase();
      } catch {
        // best effort
      } finally {
        await mongo.close();
      }
      const redis = new Redis(te.redisUrl);
      const keys = await redis.keys(`${env.API_REDIS_PREFIX}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    },
  };
}
