/**
 * `npm start`: the whole Gossip stack on this machine. Uses RabbitMQ, MongoDB and
 * Redis from GOSSIP_AMQP_URL / GOSSIP_MONGO_URL / GOSSIP_REDIS_URL when set, and
 * otherwise provisions its own (Debian packages and FerretDB, as the test
 * environment does), then runs the api, gateway and engine through @gossip/testenv's
 * launcher, builds the web client (when its build is missing or older than its sources)
 * and serves it on one origin with the api and gateway behind it, prints the URLs and
 * stops everything it started on Ctrl-C (SIGINT), SIGTERM or SIGHUP, printing "stopped".
 * If this process dies without that stop (kill -9), the launcher's watchdog ends the
 * services and the backing servers. Data lives in `.stack/` (GOSSIP_STACK_DIR) across runs.
 *
 * Everything listens on 127.0.0.1; GOSSIP_HOST=0.0.0.0 puts the api, the gateway and the
 * web client on every interface (their ops ports, with metrics and the API docs, stay on
 * loopback).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  generateSigningJwk,
  publicKeySet,
  type JwkSet,
  type PrivateJwk,
} from '../packages/servicekit/src/jwt.js';
import {
  Backing,
  Launcher,
  repoRoot,
  Watchdog,
  type BackingName,
  type Service,
} from '../packages/testenv/src/index.js';
import { ensureWebBuild, startWebServer, type WebServer } from '../packages/web/src/index.js';

const say = (line: string): void => {
  process.stdout.write(`[gossip] ${line}\n`);
};

const env = process.env;
const dir = env.GOSSIP_STACK_DIR ? resolve(env.GOSSIP_STACK_DIR) : join(repoRoot, '.stack');
/** Where the api, the gateway and the web client listen: loopback unless asked. */
const host = env.GOSSIP_HOST || '127.0.0.1';
const port = (name: string, dflt: number): number => Number(env[name] || dflt);
const ports = {
  api: port('GOSSIP_API_PORT', 8080),
  apiOps: port('GOSSIP_API_OPS_PORT', 9090),
  gateway: port('GOSSIP_GATEWAY_PORT', 8081),
  gatewayOps: port('GOSSIP_GATEWAY_OPS_PORT', 9092),
  engine: port('GOSSIP_ENGINE_PORT', 9091),
  web: port('GOSSIP_WEB_PORT', 8000),
};

let backing: Backing | undefined;
let guard: Watchdog | undefined;
let launcher: Launcher | undefined;
let web: WebServer | undefined;
let stopping: Promise<void> | undefined;

/** `p`, or nothing after `ms`: one stuck step must not keep the rest from stopping. */
const atMost = (ms: number, p: Promise<unknown>): Promise<unknown> =>
  Promise.race([p.catch(() => undefined), new Promise((r) => setTimeout(r, ms).unref())]);

async function stop(code: number): Promise<void> {
  if (stopping) {
    // A second Ctrl-C waits for the first stop instead of leaving servers behind.
    say('still stopping…');
    return stopping;
  }
  stopping = (async () => {
    say('stopping…');
    // An open browser tab keeps connections to the web server: do not wait on it for ever.
    await atMost(5000, web?.close() ?? Promise.resolve());
    // Services first (they drain and close their connections), then the servers they use.
    await launcher?.stopAll(15_000);
    await backing?.stop(10_000);
    // Ends anything still registered (nothing, normally) and lets the watchdog go.
    await guard?.close();
    say('stopped');
  })();
  await stopping;
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
  const need: BackingName[] = [];
  if (!env.GOSSIP_AMQP_URL) need.push('rabbitmq');
  if (!env.GOSSIP_REDIS_URL) need.push('redis');
  if (!env.GOSSIP_MONGO_URL) need.push('store');
  if (need.length > 0) {
    if (!existsSync('/usr/bin/apt-get')) {
      throw new Error(
        'this machine is not Debian-based, so Gossip cannot provision RabbitMQ, MongoDB and Redis itself: ' +
          'run them yourself and set GOSSIP_AMQP_URL, GOSSIP_MONGO_URL and GOSSIP_REDIS_URL',
      );
    }
    say(
      'preparing RabbitMQ, Redis and FerretDB (first run installs Debian packages and builds FerretDB)',
    );
    backing = await Backing.start(dir, say, { want: need });
    say(`backing servers up; their logs are in ${backing.logDir}`);
  }
  guard = backing?.guard ?? Watchdog.start(join(dir, 'logs', 'watchdog.log'));
  const own = backing?.urls() ?? {};
  const urls = {
    amqpUrl: env.GOSSIP_AMQP_URL || own.rabbitmq!,
    redisUrl: env.GOSSIP_REDIS_URL || own.redis!,
    mongoUrl: env.GOSSIP_MONGO_URL || own.store!,
  };

  const keys = jwtKeys();
  const logDir = join(dir, 'logs');
  launcher = new Launcher({
    servers: urls,
    logDir,
    jwtKeys: { privateKeys: keys.privateSet, publicKeys: keys.publicSet },
    host,
    // The user's own GATEWAY_*, API_* and ENGINE_* settings still apply.
    inheritEnv: true,
    guard,
  });
  const watch = (s: Service): void => {
    void s.proc.exited.then((code) => {
      if (!stopping) {
        say(`${s.name} exited (${code}); see ${join(logDir, `${s.name}.log`)}`);
        void stop(1);
      }
    });
  };
  say('starting engine');
  watch(await launcher.startEngine({ port: ports.engine }));
  say('starting api');
  // A development stack: the OpenAPI UI on the ops port.
  watch(
    await launcher.startApi({
      port: ports.api,
      opsPort: ports.apiOps,
      env: { API_DOCS: env.API_DOCS || 'true' },
    }),
  );
  say('starting gateway');
  watch(
    await launcher.startGateway({
      name: 'gateway',
      port: ports.gateway,
      opsPort: ports.gatewayOps,
      instanceId: 'local-gateway-1',
    }),
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
      host: env.GOSSIP_WEB_HOST || host,
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
        mongo: urls.mongoUrl,
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
  say(`  logs          ${logDir}`);
  say(
    '  try it        npx gossip register --server http://127.0.0.1:' + ports.api + ' --user alice',
  );
  say('press Ctrl-C to stop everything');
}

// A closed terminal (SIGHUP) takes stdout with it: the stop must not die on the write.
process.stdout.on('error', () => undefined);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void stop(0));
main().catch((err: unknown) => {
  say(`failed: ${err instanceof Error ? err.message : String(err)}`);
  void stop(1);
});
