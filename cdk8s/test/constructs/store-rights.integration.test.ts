/**
 * The per-component store rights of store-rights.ts, applied to the real servers: the api,
 * gateway and engine run as real processes, each with its own RabbitMQ user (on a vhost of
 * this test, imported into the test environment's broker with `rabbitmqctl
 * import_definitions`, the file format the managed RabbitMQ loads at boot) and its own Redis
 * ACL user (a private redis-server started with the same aclfile the managed Redis gets; the
 * shared Redis's default user is left alone). They deliver a message end to end and end a
 * session; then each user is shown to be refused what only another component may do.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import amqp from 'amqplib';
import { Redis } from 'ioredis';
import { exportPublicKeys, generateIdentityKeys } from '@gossip/crypto';
import {
  API_PATHS,
  CLOSE_CODES,
  ENGINE_ROUTING_KEY,
  deliveryExchange,
  engineQueue,
  gatewayQueue,
  gatewayRoutingKey,
  newMessageId,
  presenceKey,
  rateLimitKey,
  revokedSessionKey,
  type DeliverFrame,
  type Session,
  type WsTicket,
} from '@gossip/protocol';
import { freePort, startProcess, testEnv, uniqueName, type ManagedProcess } from '@gossip/testenv';
import {
  rabbitmqDefinitions,
  redisAclFile,
  storeClients,
  type RabbitmqClient,
  type RedisClient,
} from '../../src/constructs/store-rights.js';
import {
  Stack,
  type GatewayService,
  type Service,
} from '../../../services/gateway/test/support/stack.js';
import { WsClient } from '../../../services/gateway/test/support/wsclient.js';
import { rabbitmqctl } from '../../../services/gateway/test/support/rabbitmqctl.js';

const secret = (): string => randomBytes(18).toString('base64url');

/** The error an AMQP operation on a fresh channel of `conn` fails with (or null). */
async function amqpRefusal(
  conn: amqp.ChannelModel,
  op: (ch: amqp.ConfirmChannel) => Promise<unknown>,
): Promise<string | null> {
  const ch = await conn.createConfirmChannel();
  // A refused publish closes the channel: the reason comes as the channel's error, while
  // the pending confirm only learns that the channel closed.
  let channelError: string | null = null;
  ch.on('error', (err: Error) => (channelError = err.message));
  try {
    await op(ch);
    await ch.close();
    return channelError;
  } catch (err) {
    return channelError ?? String((err as Error).message);
  }
}

describe('per-component store users on the real RabbitMQ and Redis', () => {
  const env = testEnv();
  const scratch = join(env.dir, 'scratch', 'store-rights', uniqueName('rights'));
  const rabbitPasswords = { gateway: secret(), engine: secret() };
  const redisPasswords = {
    api: secret(),
    gateway: secret(),
    engine: secret(),
    replication: secret(),
  };
  const adminPassword = secret();
  /** Made once the private Redis runs (its constructor connects). */
  let stack: Stack;
  let id = '';
  let vhost = '';
  const rabbitUser = (c: RabbitmqClient) => `${id}-${c}`;
  const redisUser = (c: RedisClient) => `${id}-${c}`;
  let redisPort = 0;
  let redisProc: ManagedProcess | undefined;
  let amqpHost = '';
  let api: Service;
  let gw: GatewayService;
  const amqpUrl = (c: RabbitmqClient, password = rabbitPasswords[c]) =>
    `amqp://${rabbitUser(c)}:${password}@${amqpHost}/${encodeURIComponent(vhost)}`;
  const redisUrl = (c: RedisClient) =>
    `redis://${redisUser(c)}:${redisPasswords[c]}@127.0.0.1:${redisPort}`;

  before(async () => {
    mkdirSync(scratch, { recursive: true });
    // A private Redis, first with only an admin (this test's cleanup), so the stack's key
    // prefix exists before the component users are loaded from the aclfile.
    const aclFile = join(scratch, 'users.acl');
    const admin = `user admin on >${adminPassword} ~* &* +@all\n`;
    writeFileSync(aclFile, admin, { mode: 0o600 });
    redisPort = await freePort();
    redisProc = await startProcess({
      command: 'redis-server',
      args: [
        ...['--bind', '127.0.0.1', '--port', String(redisPort), '--aclfile', aclFile],
        ...['--save', '', '--appendonly', 'no', '--dir', scratch],
      ],
      readyOutput: /Ready to accept connections/,
      readyTimeoutMs: 20_000,
      logFile: join(scratch, 'redis.log'),
    });
    stack = new Stack('rights', {
      ...env,
      redisUrl: `redis://admin:${adminPassword}@127.0.0.1:${redisPort}`,
    });
    id = stack.ns;
    vhost = `${id}-vhost`;
    amqpHost = new URL(env.amqpUrl).host;

    // The aclfile as the managed Redis gets it (plus the admin), loaded by the server.
    writeFileSync(
      aclFile,
      redisAclFile({ passwords: redisPasswords, prefix: stack.redisPrefix, userName: redisUser }) +
        admin,
      { mode: 0o600 },
    );
    assert.equal(await stack.redis.acl('LOAD'), 'OK');

    // The definitions file as the managed RabbitMQ loads it, imported into the shared broker.
    const defsFile = join(scratch, 'definitions.json');
    const defs = rabbitmqDefinitions({
      passwords: rabbitPasswords,
      vhost,
      prefix: stack.amqpPrefix,
      userName: rabbitUser,
    });
    // Readable by all: Debian's rabbitmqctl drops to the rabbitmq user to read it (test
    // passwords only, and the file goes with the scratch folder at the end).
    writeFileSync(defsFile, JSON.stringify(defs), { mode: 0o644 });
    await rabbitmqctl(stack, 'import_definitions', defsFile);
  });

  after(async () => {
    if (stack) {
      await rabbitmqctl(stack, 'delete_vhost', vhost).catch(() => undefined);
      for (const c of storeClients.rabbitmq) {
        await rabbitmqctl(stack, 'delete_user', rabbitUser(c)).catch(() => undefined);
      }
      await stack.close();
    }
    await redisProc?.stop(5000);
    rmSync(scratch, { recursive: true, force: true });
  });

  it('the api, engine and gateway deliver a message and end a session, each as its own user', async () => {
    const s = stack;
    const redisFor = (c: RedisClient, service: string) => ({
      [`${service}_REDIS_URL`]: redisUrl(c),
    });
    [api] = await Promise.all([
      s.startApi(redisFor('api', 'API')),
      s.startEngine({ ENGINE_AMQP_URL: amqpUrl('engine'), ...redisFor('engine', 'ENGINE') }),
    ]);
    gw = await s.startGateway({
      GATEWAY_AMQP_URL: amqpUrl('gateway'),
      ...redisFor('gateway', 'GATEWAY'),
    });

    const post = async <T>(path: string, body: unknown, token?: string): Promise<T> => {
      const res = await fetch(api.url + path, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      assert.ok(res.status < 300, `POST ${path}: ${res.status} ${text}`);
      return (text ? JSON.parse(text) : undefined) as T;
    };
    const register = async (username: string): Promise<Session> => {
      const keys = await exportPublicKeys(await generateIdentityKeys());
      const password = `pw-${secret()}`;
      await post<Session>(API_PATHS.register, { username, password, keys });
      // Login too: the api's rate-limit buckets live in Redis.
      return post<Session>(API_PATHS.login, { username, password });
    };
    const alice = await register('alice');
    const bob = await register('bob');
    await s.makeContacts('alice', 'bob');

    // Alice with a ticket (the api stores it, the gateway takes it), Bob with his token.
    const ticket = await post<WsTicket>(API_PATHS.wsTicket, {}, alice.accessToken);
    const a = await WsClient.connect(
      `${gw.wsUrl}?ticket=${encodeURIComponent(ticket.ticket)}`,
      undefined,
    );
    const b = await WsClient.connect(gw.wsUrl, bob.accessToken);
    await a.waitFor((f) => f.type === 'hello');
    await b.waitFor((f) => f.type === 'hello');
    const msgId = newMessageId();
    const body = randomBytes(32).toString('base64');
    a.send({ type: 'send', id: msgId, to: 'bob', kind: 'message', body });
    await a.waitFor((f) => f.type === 'accepted' && f.id === msgId);
    const d = await b.waitFor<DeliverFrame>((f) => f.type === 'deliver' && f.id === msgId);
    assert.equal(d.body, body);
    b.send({ type: 'ack', ids: [msgId] });
    await a.waitFor((f) => f.type === 'delivered' && f.id === msgId);

    // Logout: the api marks and publishes the revocation, the gateway closes Bob's socket.
    await post(API_PATHS.logout, { refreshToken: bob.refreshToken });
    assert.equal((await b.closed).code, CLOSE_CODES.sessionRevoked);
    await a.close();

    assert.doesNotMatch(s.logs(), /NOPERM|ACCESS_REFUSED|NOAUTH/);
  });

  it("the gateway's RabbitMQ user is refused what only the engine may touch", async () => {
    const conn = await amqp.connect(amqpUrl('gateway'));
    try {
      const p = stack.amqpPrefix;
      const refusals = {
        consumeEngineQueue: await amqpRefusal(conn, (ch) =>
          ch.consume(engineQueue(p), () => undefined),
        ),
        declareEngineQueue: await amqpRefusal(conn, (ch) =>
          ch.assertQueue(engineQueue(p), { durable: true }),
        ),
        publishToAGateway: await amqpRefusal(conn, async (ch) => {
          ch.publish(deliveryExchange(p), gatewayRoutingKey('gw-other'), Buffer.from('{}'));
          await ch.waitForConfirms();
        }),
        bindOwnQueueToEngineKey: await amqpRefusal(conn, async (ch) => {
          const q = gatewayQueue(p, 'spy');
          await ch.assertQueue(q, { exclusive: true, autoDelete: true });
          await ch.bindQueue(q, deliveryExchange(p), ENGINE_ROUTING_KEY);
        }),
      };
      for (const [what, err] of Object.entries(refusals)) {
        assert.match(err ?? 'allowed', /ACCESS_REFUSED/, what);
      }
      // What it does need still works on the same connection.
      assert.equal(
        await amqpRefusal(conn, async (ch) => {
          ch.publish(deliveryExchange(p), ENGINE_ROUTING_KEY, Buffer.from('{}'));
          await ch.waitForConfirms();
        }),
        null,
      );
    } finally {
      await conn.close();
    }
    // And neither user has any right on another vhost.
    const otherVhost = `amqp://${rabbitUser('engine')}:${rabbitPasswords.engine}@${amqpHost}/`;
    // (amqplib reports the broker's refusal to open the vhost only as a ConnectionClose.)
    await assert.rejects(amqp.connect(otherVhost), /ConnectionClose|NOT_ALLOWED|ACCESS_REFUSED/);
    await assert.rejects(amqp.connect(amqpUrl('engine', 'wrong')), /ACCESS_REFUSED/);
  });

  it("the engine's RabbitMQ user cannot consume or bind a gateway's queue", async () => {
    const conn = await amqp.connect(amqpUrl('engine'));
    try {
      const p = stack.amqpPrefix;
      const q = gatewayQueue(p, gw.instanceId);
      assert.match(
        (await amqpRefusal(conn, (ch) => ch.consume(q, () => undefined))) ?? 'allowed',
        /ACCESS_REFUSED/,
      );
      assert.match(
        (await amqpRefusal(conn, (ch) =>
          ch.publish(deliveryExchange(p), ENGINE_ROUTING_KEY, Buffer.from('{}'))
            ? ch.waitForConfirms()
            : Promise.resolve(),
        )) ?? 'allowed',
        /ACCESS_REFUSED/,
      );
    } finally {
      await conn.close();
    }
  });

  it('each Redis user is refused commands, keys and channels it does not need', async () => {
    const p = stack.redisPrefix;
    const as = (c: RedisClient | 'nobody') =>
      new Redis(
        c === 'nobody'
          ? `redis://127.0.0.1:${redisPort}`
          : `redis://${redisUser(c)}:${redisPasswords[c]}@127.0.0.1:${redisPort}`,
        { enableReadyCheck: false, maxRetriesPerRequest: 0, lazyConnect: true },
      );
    const clients = {
      api: as('api'),
      gateway: as('gateway'),
      engine: as('engine'),
      nobody: as('nobody'),
    };
    try {
      await Promise.all(Object.values(clients).map((c) => c.connect()));
      const refused = async (what: string, op: () => Promise<unknown>, code = /NOPERM/) => {
        await assert.rejects(op(), code, what);
      };
      for (const c of ['api', 'gateway', 'engine'] as const) {
        const r = clients[c];
        await refused(`${c} FLUSHALL`, () => r.flushall());
        await refused(`${c} CONFIG GET`, () => r.config('GET', 'requirepass'));
        await refused(`${c} KEYS`, () => r.keys('*'));
        await refused(`${c} ACL LIST`, () => r.acl('LIST'));
        await refused(`${c} key outside the prefix`, () => r.get('elsewhere'));
        assert.equal(await r.ping(), 'PONG');
      }
      // Only the api writes revocation marks and rate-limit buckets and publishes.
      const mark = p + revokedSessionKey('x');
      await refused('gateway sets a revocation mark', () => clients.gateway.set(mark, '1'));
      await refused('gateway publishes a revocation', () =>
        clients.gateway.publish(`${p}sessions`, '{}'),
      );
      await refused('gateway reads a rate-limit bucket', () =>
        clients.gateway.hget(p + rateLimitKey('login_pair', 'x'), 'n'),
      );
      // The engine only reads presence; the api never touches it.
      const presence = p + presenceKey('alice');
      await refused('engine writes presence', () => clients.engine.hset(presence, 'gw', '1'));
      await refused('engine reads a ticket', () => clients.engine.exists(`${p}ws-ticket:x`));
      await refused('api reads presence', () => clients.api.hgetall(presence));
      assert.deepEqual(await clients.engine.hgetall(presence), {});
      // Without credentials nothing works: the default user is off.
      await refused('no credentials', () => clients.nobody.get(mark), /NOAUTH|NOPERM/);
    } finally {
      for (const c of Object.values(clients)) c.disconnect();
    }
  });
});
