/**
 * On Kubernetes an engine or gateway pod often starts before its stores answer. Found on
 * the real test node: both exited on `ECONNREFUSED` to Redis and restarted into
 * CrashLoopBackOff until Redis was up. Here each starts against store addresses where
 * nothing listens yet; proxies to the real servers open there a few seconds later, and each
 * must become ready (its process still the first one) and deliver a message.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConnection, createServer, type Server } from 'node:net';
import { after, test } from 'node:test';
import { freePort } from '@gossip/testenv';
import { eventually, Stack } from './support/stack.js';
import { ReliableClient } from './support/wsclient.js';

const stack = new Stack('stores-late');
const proxies: Server[] = [];
const clients: ReliableClient[] = [];

after(async () => {
  await Promise.allSettled(clients.map((c) => c.stop()));
  for (const p of proxies) p.close();
  await stack.close();
});

/** The store's URL with its port replaced by one where nothing listens yet. */
async function lateUrl(url: string): Promise<{ url: string; open: () => Promise<void> }> {
  const target = new URL(url);
  const port = await freePort();
  const late = new URL(url);
  late.port = String(port);
  const open = async (): Promise<void> => {
    const proxy = createServer((c) => {
      const up = createConnection({ host: target.hostname, port: Number(target.port) });
      c.pipe(up).pipe(c);
      c.on('error', () => up.destroy());
      up.on('error', () => c.destroy());
    });
    proxies.push(proxy);
    await new Promise<void>((r) => proxy.listen(port, '127.0.0.1', r));
  };
  return { url: late.toString(), open };
}

test('an engine and a gateway started before Redis and MongoDB answer become ready once they do', async () => {
  await stack.createUsers('alice', 'bob');
  await stack.makeContacts('alice', 'bob');
  const redis = await lateUrl(stack.env.redisUrl);
  const mongo = await lateUrl(stack.env.mongoUrl);
  const started = Promise.all([
    stack.startEngine({ ENGINE_REDIS_URL: redis.url, ENGINE_MONGO_URL: mongo.url }),
    stack.startGateway({ GATEWAY_REDIS_URL: redis.url }),
  ]);
  // An exit before ready is reported below, not as an unhandled rejection.
  let failed: unknown;
  started.catch((err: unknown) => {
    failed = err;
  });
  // Open the stores only once each service has seen them missing (or has exited, which is
  // what both did before the fix): the engine's first MongoDB attempt has failed after its
  // 5 s server selection, and the gateway's Redis connection was refused.
  const logs = join(stack.env.dir, 'scratch', 'delivery', stack.ns);
  const logText = (prefix: string): string =>
    existsSync(logs)
      ? readdirSync(logs)
          .filter((f) => f.startsWith(prefix))
          .map((f) => readFileSync(join(logs, f), 'utf8'))
          .join('')
      : '';
  await eventually(
    () =>
      failed !== undefined ||
      (/mongodb not reachable yet/.test(logText('engine')) &&
        /redis not reachable yet/.test(logText('gateway'))),
    'the engine to find MongoDB and the gateway to find Redis missing',
    60_000,
    250,
  );
  if (failed !== undefined) throw failed;
  await Promise.all([mongo.open(), redis.open()]);
  const [, gw] = await started;
  // startProcess rejects when a process exits before it is ready: these are the first ones.

  const alice = new ReliableClient({ urls: () => [gw.wsUrl], token: () => stack.token('alice') });
  const bob = new ReliableClient({ urls: () => [gw.wsUrl], token: () => stack.token('bob') });
  clients.push(alice, bob);
  await Promise.all([alice.start(), bob.start()]);
  const id = alice.sendMessage('bob', 'after the stores came up');
  await eventually(() => bob.seen.has(id), 'the message shown to bob', 30_000);
});
