/**
 * What each Gossip component may do in each backing store, defined once: the RabbitMQ
 * permissions, the Redis ACL rules and the MongoDB roles of the api, gateway and engine.
 * Every name comes from `@gossip/protocol`, where the services take theirs, so a renamed
 * queue, key or collection changes the rights with it. The managed stores load these at
 * boot (definitions file, aclfile, initdb script) and the integration tests apply the same
 * objects to the real servers.
 *
 * Who uses what (from the services' code):
 * - RabbitMQ: the gateway publishes to the engines (`engine` routing key) and consumes its
 *   own exclusive queue; the engine consumes the engines' queue and publishes to gateways.
 *   The api does not use RabbitMQ.
 * - Redis: the api writes rate-limit buckets, WebSocket tickets and revocation marks and
 *   publishes events and revocations; the gateway writes presence and per-user connection
 *   counts, reads revocation marks, takes (deletes) tickets and subscribes to both channels;
 *   the engine only reads presence.
 * - MongoDB: the api owns accounts, tokens, contacts, events, avatars and attachments
 *   (metadata and GridFS ciphertext) and removes a deleted account's messages and receipts;
 *   the engine owns messages and receipts, reads users and contacts, reads/removes events,
 *   and reads, marks acked and removes attachments.
 */
import {
  COLLECTIONS,
  CONTACTS_COLLECTION,
  DEFAULT_AMQP_PREFIX,
  DEFAULT_MONGO_DB,
  DEFAULT_REDIS_PREFIX,
  ENGINE_ROUTING_KEY,
  EVENTS_CHANNEL,
  REVOCATIONS_CHANNEL,
  deliveryExchange,
  engineQueue,
  gatewayQueue,
  gatewayRoutingKey,
  presenceKey,
  rateLimitKey,
  revokedAccountKey,
  revokedSessionKey,
  userConnsKey,
  wsTicketKey,
} from '@gossip/protocol';
import type { BackingServiceName } from '../api/v1alpha1.js';
import type { AppComponent } from './naming.js';

/** Which app components use which store (and so get a user in it). */
export const storeClients = {
  rabbitmq: ['gateway', 'engine'],
  mongodb: ['api', 'engine'],
  redis: ['api', 'gateway', 'engine'],
} as const satisfies Record<BackingServiceName, readonly AppComponent[]>;

export type RabbitmqClient = (typeof storeClients.rabbitmq)[number];
export type MongodbClient = (typeof storeClients.mongodb)[number];
export type RedisClient = (typeof storeClients.redis)[number];

/** The RabbitMQ virtual host the components use (their users have no rights elsewhere). */
export const rabbitmqVhost = 'gossip';

/** The user name of a component in a store: the component's own name. */
export function storeUserName(component: AppComponent): string {
  return component;
}

/** `s` as a regular expression matching exactly `s`. */
function literal(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A regex matching exactly one of `names`. */
function oneOf(...names: string[]): string {
  return `^(${names.join('|')})$`;
}

/**
 * One user's permissions on the vhost, as `rabbitmqctl set_permissions` and a definitions
 * file take them (regexes over exchange and queue names), plus its topic permissions on
 * the delivery exchange (regexes over routing keys: `write` when publishing, `read` when
 * binding a queue).
 */
export interface RabbitmqPermission {
  readonly configure: string;
  readonly write: string;
  readonly read: string;
  readonly topic: { readonly exchange: string; readonly write: string; readonly read: string };
}

/**
 * The permissions of the gateway and the engine for AMQP name prefix `prefix`.
 *
 * Declaring needs `configure`, publishing needs `write` on the exchange, consuming needs
 * `read` on the queue, binding needs `read` on the exchange and `write` on the queue. So
 * the gateway can declare, bind and consume only `<p>.gateway.*` queues and publish only
 * with routing key `engine`; the engine only the `<p>.engine` queue and routing keys
 * `gateway.*`. Neither can read the other's queue or impersonate the other on the exchange.
 */
export function rabbitmqPermissions(
  prefix: string = DEFAULT_AMQP_PREFIX,
): Record<RabbitmqClient, RabbitmqPermission> {
  const exchange = literal(deliveryExchange(prefix));
  const engine = literal(engineQueue(prefix));
  // Instance ids are pod names or host names (`[A-Za-z0-9._-]`), so any suffix.
  const gatewayQueues = `${literal(gatewayQueue(prefix, ''))}.+`;
  const toGateways = `^${literal(gatewayRoutingKey(''))}.+$`;
  const toEngines = `^${literal(ENGINE_ROUTING_KEY)}$`;
  const topic = (write: string, read: string) => ({
    exchange: deliveryExchange(prefix),
    write,
    read,
  });
  return {
    gateway: {
      configure: oneOf(exchange, gatewayQueues),
      write: oneOf(exchange, gatewayQueues),
      read: oneOf(exchange, gatewayQueues),
      topic: topic(toEngines, toGateways),
    },
    engine: {
      configure: oneOf(exchange, engine),
      write: oneOf(exchange, engine),
      read: oneOf(exchange, engine),
      topic: topic(toGateways, toEngines),
    },
  };
}

/** A RabbitMQ definitions file (the subset Gossip writes), as `load_definitions` reads it. */
export interface RabbitmqDefinitions {
  users: Array<{ name: string; password: string; tags: string }>;
  vhosts: Array<{ name: string }>;
  permissions: Array<{
    user: string;
    vhost: string;
    configure: string;
    write: string;
    read: string;
  }>;
  topic_permissions: Array<{
    user: string;
    vhost: string;
    exchange: string;
    write: string;
    read: string;
  }>;
}

/**
 * The definitions creating the vhost, one user per component with `passwords[component]`
 * and their permissions. RabbitMQ hashes a plain `password` itself on import (as
 * `rabbitmqctl add_user` does), so the file needs no precomputed `password_hash`.
 */
export function rabbitmqDefinitions(opts: {
  readonly passwords: Readonly<Record<RabbitmqClient, string>>;
  readonly vhost?: string;
  readonly prefix?: string;
  /** User name of a component (tests make them unique). @default storeUserName */
  readonly userName?: (c: RabbitmqClient) => string;
}): RabbitmqDefinitions {
  const vhost = opts.vhost ?? rabbitmqVhost;
  const name = opts.userName ?? storeUserName;
  const perms = rabbitmqPermissions(opts.prefix);
  const clients = storeClients.rabbitmq;
  return {
    users: clients.map((c) => ({ name: name(c), password: opts.passwords[c], tags: '' })),
    vhosts: [{ name: vhost }],
    permissions: clients.map((c) => ({
      user: name(c),
      vhost,
      configure: perms[c].configure,
      write: perms[c].write,
      read: perms[c].read,
    })),
    topic_permissions: clients.map((c) => ({ user: name(c), vhost, ...perms[c].topic })),
  };
}

/**
 * Redis ACL rules (after `user <name> on >password`) per component, for key prefix
 * `prefix`. Each starts from nothing (`resetkeys resetchannels -@all`) and adds the exact
 * commands the component sends, including those its Lua scripts call (Redis checks those
 * against the caller's ACL too) and INFO, which ioredis sends as its ready check (server
 * statistics only, no keys). No FLUSHALL, CONFIG, KEYS, SCAN, DEBUG, ACL or MODULE for
 * anyone.
 */
export function redisAclRules(
  prefix: string = DEFAULT_REDIS_PREFIX,
): Record<RedisClient, readonly string[]> {
  const key = (k: string) => `~${prefix}${k}`;
  const readKey = (k: string) => `%R~${prefix}${k}`;
  const channel = (c: string) => `&${prefix}${c}`;
  const commands = (...names: string[]) => names.map((n) => `+${n}`);
  const base = ['resetkeys', 'resetchannels', '-@all', ...commands('ping', 'info')];
  return {
    api: [
      ...base,
      key(rateLimitKey('*', '*')),
      key(wsTicketKey('*')),
      key(revokedSessionKey('*')),
      key(revokedAccountKey('*')),
      channel(EVENTS_CHANNEL),
      channel(REVOCATIONS_CHANNEL),
      // ratelimit.ts (its two scripts and the reset), session-registry.ts, events.ts.
      ...commands('eval', 'incr', 'pexpire', 'pttl', 'hget', 'hincrby', 'hset', 'del'),
      ...commands('set', 'exists', 'multi', 'exec', 'publish'),
    ],
    gateway: [
      ...base,
      key(presenceKey('*')),
      key(userConnsKey('*')),
      key(wsTicketKey('*')),
      readKey(revokedSessionKey('*')),
      readKey(revokedAccountKey('*')),
      channel(EVENTS_CHANNEL),
      channel(REVOCATIONS_CHANNEL),
      // presence.ts, caps.ts (and its script), sessions.ts, the subscriber connection.
      ...commands('hset', 'hdel', 'pexpire', 'eval', 'hgetall', 'exists', 'del'),
      ...commands('subscribe', 'unsubscribe'),
    ],
    engine: [...base, readKey(presenceKey('*')), ...commands('hgetall')],
  };
}

/**
 * The aclfile lines: the `default` user switched off (an unauthenticated client can do
 * nothing), one user per component, and `replication` (PSYNC, REPLCONF and PING only: what
 * a replica sends its primary, and what the readiness probe runs).
 */
export function redisAclFile(opts: {
  readonly passwords: Readonly<Record<RedisClient | 'replication', string>>;
  readonly prefix?: string;
  /** User name of a component (tests make them unique). @default storeUserName */
  readonly userName?: (c: RedisClient) => string;
}): string {
  const rules = redisAclRules(opts.prefix);
  const name = opts.userName ?? storeUserName;
  return [
    'user default off resetkeys resetchannels -@all',
    ...storeClients.redis.map(
      (c) => `user ${name(c)} on >${opts.passwords[c]} ${rules[c].join(' ')}`,
    ),
    `user replication on >${opts.passwords.replication} resetkeys resetchannels -@all +psync +replconf +ping`,
    '',
  ].join('\n');
}

/** Rights on one collection of the Gossip database. */
export interface MongoPrivilege {
  readonly collection: string;
  readonly actions: readonly string[];
}

/**
 * Creating and checking indexes. Both services create every index of the collections they
 * share at start (@gossip/store's `ensureSharedIndexes`: messages, receipts, events, contacts,
 * attachments), whichever starts first, so each needs this on all of them.
 */
const indexing = ['createIndex', 'listIndexes'];

/** Owning a collection: documents, and its indexes (creating an index may create it). */
const readWrite = [
  'find',
  'insert',
  'update',
  'remove',
  'createIndex',
  'listIndexes',
  'createCollection',
];

/**
 * The MongoDB privileges of the api and the engine, each on its collections of `db` only
 * (custom roles, never `root`, `readWriteAnyDatabase` or even `readWrite` on the database).
 */
export function mongodbPrivileges(): Record<MongodbClient, readonly MongoPrivilege[]> {
  const rw = (collection: string) => ({ collection, actions: readWrite });
  const avatars = COLLECTIONS.avatarBucket;
  const blobs = COLLECTIONS.attachmentBucket;
  return {
    api: [
      rw(COLLECTIONS.users),
      rw(COLLECTIONS.refreshTokens),
      rw(COLLECTIONS.contacts),
      rw(COLLECTIONS.events),
      rw(`${avatars}.files`),
      rw(`${avatars}.chunks`),
      // Uploads (metadata and GridFS ciphertext), downloads, withdrawals.
      rw(COLLECTIONS.attachments),
      rw(`${blobs}.files`),
      rw(`${blobs}.chunks`),
      // Account deletion removes what is pending for and from the account.
      { collection: COLLECTIONS.messages, actions: ['find', 'remove', ...indexing] },
      { collection: COLLECTIONS.receipts, actions: ['find', 'remove', ...indexing] },
    ],
    engine: [
      rw(COLLECTIONS.messages),
      rw(COLLECTIONS.receipts),
      // Replay and ack of contact events, their retention sweep and indexes.
      { collection: COLLECTIONS.events, actions: ['find', 'remove', ...indexing] },
      { collection: COLLECTIONS.users, actions: ['find'] },
      { collection: CONTACTS_COLLECTION, actions: ['find', ...indexing] },
      // Checks a send's attachments, records acks (ackedBy), deletes what every recipient
      // acked or what expired, and counts what is stored; it never writes ciphertext.
      {
        collection: COLLECTIONS.attachments,
        actions: ['find', 'update', 'remove', ...indexing],
      },
      { collection: `${blobs}.files`, actions: ['find', 'remove'] },
      { collection: `${blobs}.chunks`, actions: ['find', 'remove'] },
    ],
  };
}

/** The role name of a component in MongoDB. */
export function mongodbRole(component: MongodbClient): string {
  return `gossip-${component}`;
}

/**
 * A mongosh script for the official image's `/docker-entrypoint-initdb.d/` (run once, on an
 * empty data directory, as the root user): one role and one user per component in `admin`,
 * with the password from the environment variable `passwordEnv[component]` (so no password
 * sits in the ConfigMap holding the script).
 */
export function mongodbInitScript(opts: {
  readonly passwordEnv: Readonly<Record<MongodbClient, string>>;
  readonly db?: string;
}): string {
  const db = opts.db ?? DEFAULT_MONGO_DB;
  const privileges = mongodbPrivileges();
  const lines = [
    '// Generated by @gossip/cdk8s (store-rights.ts): least-privilege users per component.',
    "const admin = db.getSiblingDB('admin');",
  ];
  for (const c of storeClients.mongodb) {
    const role = {
      role: mongodbRole(c),
      privileges: privileges[c].map((p) => ({
        resource: { db, collection: p.collection },
        actions: [...p.actions],
      })),
      roles: [],
    };
    lines.push(
      `admin.createRole(${JSON.stringify(role)});`,
      `admin.createUser({ user: ${JSON.stringify(storeUserName(c))}, pwd: process.env[${JSON.stringify(opts.passwordEnv[c])}], roles: [{ role: ${JSON.stringify(mongodbRole(c))}, db: 'admin' }] });`,
    );
  }
  return [...lines, ''].join('\n');
}
