/**
 * Rough figures for the api as a real process on the test environment's FerretDB and
 * Redis: register and login latency at the default scrypt cost, and key-directory
 * throughput. Reports numbers; passes or fails nothing.
 *
 *   node --import tsx services/api/bench/http.bench.ts
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportPublicKeys, generateIdentityKeys } from '@gossip/crypto';
import { generateKeySets } from '@gossip/servicekit';
import { freePort, startProcess, testEnv, uniqueName } from '@gossip/testenv';
import { MongoClient } from 'mongodb';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function summary(name: string, ms: number[]): void {
  const s = [...ms].sort((a, b) => a - b);
  console.log(
    `${name}: n=${s.length} p50=${pct(s, 50).toFixed(1)} ms p99=${pct(s, 99).toFixed(1)} ms max=${s.at(-1)?.toFixed(1)} ms`,
  );
}

async function main(): Promise<void> {
  const env = testEnv();
  const port = await freePort();
  const db = uniqueName('apibench').replace(/-/g, '_');
  const api = await startProcess({
    command: process.execPath,
    args: ['--import', 'tsx', join(root, 'services/api/src/main.ts')],
    cwd: root,
    env: {
      API_PORT: String(port),
      API_HOST: '127.0.0.1',
      API_OPS_PORT: '0',
      API_MONGO_URL: env.mongoUrl,
      API_MONGO_DB: db,
      API_REDIS_URL: env.redisUrl,
      API_REDIS_PREFIX: `${uniqueName('apibench')}:`,
      API_JWT_PRIVATE_KEYS: generateKeySets('bench').privateKeys,
      API_LOG_LEVEL: 'warn',
      API_REGISTER_MAX_PER_IP: '100000',
      API_LOGIN_MAX_PER_IP: '100000',
    },
    readyUrl: `http://127.0.0.1:${port}/readyz`,
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    const keys = await exportPublicKeys(await generateIdentityKeys());
    const post = (path: string, body: unknown) =>
      fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const reg: number[] = [];
    let token = '';
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      const res = await post('/v1/auth/register', {
        username: `bench_${i}`,
        password: 'benchmark pw',
        keys,
      });
      reg.push(performance.now() - t);
      token = ((await res.json()) as { accessToken: string }).accessToken;
    }
    summary('register (scrypt at API_SCRYPT_LOG_N, default 2^17, + key import + fingerprint)', reg);
    const login: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      await post('/v1/auth/login', { username: `bench_${i}`, password: 'benchmark pw' });
      login.push(performance.now() - t);
    }
    summary('login (scrypt at API_SCRYPT_LOG_N, default 2^17)', login);

    const lat: number[] = [];
    const until = Date.now() + 5000;
    const worker = async () => {
      while (Date.now() < until) {
        const t = performance.now();
        const res = await fetch(`${base}/v1/users/bench_1/keys`, {
          headers: { authorization: `Bearer ${token}` },
        });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`status ${res.status}`);
        lat.push(performance.now() - t);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    summary('GET /v1/users/:u/keys, 16 concurrent, 5 s', lat);
    console.log(`  throughput: ${(lat.length / 5).toFixed(0)} requests/s`);
  } finally {
    await api.stop();
    const mongo = new MongoClient(env.mongoUrl);
    await mongo.db(db).dropDatabase();
    await mongo.close();
  }
}

await main();
