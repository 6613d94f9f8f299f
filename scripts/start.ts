/**
 * `npm start`: the whole Gossip stack on this machine. Uses RabbitMQ, MongoDB and
 * Redis from GOSSIP_AMQP_URL / GOSSIP_MONGO_URL / GOSSIP_REDIS_URL when set, and
 * otherwise provisions its own (Debian packages and FerretDB, as the test
 * environment does), then runs the api, gateway and engine, builds the web client
 * (when its build is missing or older than its sources) and serves it on one origin
 * with the api and gateway behind it, prints the URLs and stops everything it started
 * on Ctrl-C. Data lives in `.stack/` across runs.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JWT_KEY_ENV } from '../packages/protocol/src/index.js';
import {
  generateSigningJwk,
  publicKeySet,
  type JwkSet,
  type PrivateJwk,
} from '../packages/servicekit/src/jwt.js';
import { ensureBinaries, type GoBuild } from '../packages/testenv/src/install.js';
import { startProcess, type ManagedProcess } from '../packages/testenv/src/process.js';
import { startFerret, startRabbit, startRedis, type Ctx } from '../packages/testenv/src/servers.js';
import { repoRoot, type ServerRecord } from '../packages/testenv/src/state.js';
import { ensureWebBuild, startWebServer, type WebServer } from '../packages/web/src/index.js';

const say = (line: string): void => {
  process.stdout.write(`[gossip] ${line}\n`);
};

const dir = join(repoRoot, '.stack');
const env = process.env;
const port = (name: string, dflt: number): number => Number(env[name] || dflt);
const ports = {
  api: port('GOSSIP_API_PORT', 8080),
  apiOps: port('GOSSIP_API_OPS_PORT', 9090),
  gateway: port('GOSSIP_GATEWAY_PORT', 8081),
  gatewayOps: port('GOSSIP_GATEWAY_OPS_PORT', 9092),
  engine: port('GOSSIP_ENGINE_PORT', 9091),
  web: port('GOSSIP_WEB_PORT', 8000),
};

const backing: ServerRecord[] = [];
const services: { name: string; proc: ManagedProcess }[] = [];
let web: WebServer | undefined;
let stopping = false;

async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    say('stopping…');
    await web?.close();
    // Services first (they drain and close their connections), then the servers they use.
    for (const s of [...services].reverse()) await s.proc.stop(15_000);
    for (const rec of [...backing].reverse()) {
      for (const pid of [rec.pid, ...(rec.extraPids ?? [])]) {
        try {
          process.kill(-pid, 'SIGTERM');
        } catch {
          // gone already
        }
      }
    }
    say('stopped');
  }
  process.exit(code);
}

/**
 * The access-token keys: an Ed25519 key pair generated once into the state directory
 * (private set for the api; the gateway gets only its public half).
 */
function jwtKeys(): { privateSet: string; publicSet: string } {
  const file = join(dir, 'jwt-keys.json');
  if (!existsSync(file)) {
    const set = { keys: [generateSigningJwk(`local-${new Date().toISOString().slice(0, 10)}`)] };
    writeFileSync(file, JSON.stringify(set), { mode: 0o600 });
  }
  const set = JSON.parse(readFileSync(file, 'utf8')) as JwkSet<PrivateJwk>;
  return { privateSet: JSON.stringify(set), publicSet: JSON.stringify(publicKeySet(set)) };
}

async function main(): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const need = {
    redis: !env.GOSSIP_REDIS_URL,
    rabbitmq: !env.GOSSIP_AMQP_URL,
    mongo: !env.GOSSIP_MONGO_URL,
  };
  let urls = {
    redis: env.GOSSIP_REDIS_URL ?? '',
    amqp: env.GOSSIP_AMQP_URL ?? '',
    mongo: env.GOSSIP_MONGO_URL ?? '',
  };
  if (need.redis || need.rabbitmq || need.mongo) {
    if (!existsSync('/usr/bin/apt-get')) {
      throw new Error(
        'this machine is not Debian-based, so Gossip cannot provision RabbitMQ, MongoDB and Redis itself: ' +
          'run them yourself and set GOSSIP_AMQP_URL, GOSSIP_MONGO_URL and GOSSIP_REDIS_URL',
      );
    }
    say(
      'preparing RabbitMQ, Redis and FerretDB (first run installs Debian packages and builds FerretDB)',
    );
    const want: GoBuild[] = need.mongo ? ['ferretdb'] : [];
    const bin = await ensureBinaries(say, want, 'stack');
    const ctx: Ctx = { bin, dataDir: join(dir, 'data'), logDir: join(dir, 'logs') };
    const track = <T extends { rec: ServerRecord; url: string }>(r: T): string => {
      backing.push(r.rec);
      return r.url;
    };
    const [redis, amqp, mongo] = await Promise.all([
      need.redis ? startRedis(ctx).then(track) : urls.redis,
      need.rabbitmq ? startRabbit(ctx).then(track) : urls.amqp,
      need.mongo ? startFerret(ctx).then(track) : urls.mongo,
    ]);
    urls = { redis, amqp, mongo };
    say(`backing servers up; their logs are in ${ctx.logDir}`);
  }

  const keys = jwtKeys();
  const common = { LOG: join(dir, 'logs') };
  const run = async (
    name: string,
    entry: string,
    vars: Record<string, string>,
    ready: string,
  ): Promise<void> => {
    say(`starting ${name}`);
    const proc = await startProcess({
      command: process.execPath,
      args: ['--import', 'tsx', entry],
      env: vars,
      readyUrl: ready,
      readyTimeoutMs: 60_000,
      logFile: join(common.LOG, `${name}.log`),
    });
    services.push({ name, proc });
    void proc.exited.then((code) => {
      if (!stopping) {
        say(`${name} exited (${code}); see ${join(common.LOG, `${name}.log`)}`);
        void stop(1);
      }
    });
  };
  await run(
    'engine',
    'services/engine/src/main.ts',
    {
      ENGINE_PORT: String(ports.engine),
      ENGINE_AMQP_URL: urls.amqp,
      ENGINE_MONGO_URL: urls.mongo,
      ENGINE_REDIS_URL: urls.redis,
    },
    `http://127.0.0.1:${ports.engine}/readyz`,
  );
  await run(
    'api',
    'services/api/src/main.ts',
    {
      API_PORT: String(ports.api),
      API_OPS_PORT: String(ports.apiOps),
      // A development stack: the OpenAPI UI on the ops port.
      API_DOCS: 'true',
      API_MONGO_URL: urls.mongo,
      API_REDIS_URL: urls.redis,
      [JWT_KEY_ENV.apiPrivateKeys]: keys.privateSet,
    },
    `http://127.0.0.1:${ports.api}/readyz`,
  );
  await run(
    'gateway',
    'services/gateway/src/main.ts',
    {
      GATEWAY_PORT: String(ports.gateway),
      GATEWAY_OPS_PORT: String(ports.gatewayOps),
      GATEWAY_AMQP_URL: urls.amqp,
      GATEWAY_REDIS_URL: urls.redis,
      [JWT_KEY_ENV.gatewayPublicKeys]: keys.publicSet,
      GATEWAY_INSTANCE_ID: 'local-gateway-1',
    },
    `http://127.0.0.1:${ports.gateway}/readyz`,
  );

  // After the services, so a broken build cannot hide a backing-server problem; before
  // the banner, so the URL printed is one that answers.
  const dist = await ensureWebBuild(say);
  try {
    web = await startWebServer({
      root: dist,
      apiUrl: `http://127.0.0.1:${ports.api}`,
      gatewayUrl: `http://127.0.0.1:${ports.gateway}`,
      port: ports.web,
      host: env.GOSSIP_WEB_HOST || '127.0.0.1',
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(`port ${ports.web} is in use: set GOSSIP_WEB_PORT to a free one`, {
        cause: err,
      });
    }
    throw err;
  }

  // For `npm run demo` and other local tools: where this stack's servers are.
  writeFileSync(
    join(dir, 'urls.json'),
    JSON.stringify(
      {
        api: `http://127.0.0.1:${ports.api}`,
        gateway: `ws://127.0.0.1:${ports.gateway}/ws`,
        web: web.url,
        mongo: urls.mongo,
      },
      null,
      2,
    ) + '\n',
    { mode: 0o600 },
  );
  say('Gossip is running:');
  say(`  web client    ${web.url}   (open it in two browser windows, one private, to chat)`);
  say(`  REST api      http://127.0.0.1:${ports.api}   (OpenAPI: :${ports.apiOps}/docs)`);
  say(`  WebSocket     ws://127.0.0.1:${ports.gateway}/ws`);
  say(
    `  metrics       http://127.0.0.1:${ports.apiOps}/metrics, :${ports.gatewayOps}/metrics, :${ports.engine}/metrics`,
  );
  say(`  logs          ${common.LOG}`);
  say(
    '  try it        npx gossip register --server http://127.0.0.1:' + ports.api + ' --user alice',
  );
  say('press Ctrl-C to stop everything');
}

process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
main().catch((err: unknown) => {
  say(`failed: ${err instanceof Error ? err.message : String(err)}`);
  void stop(1);
});
