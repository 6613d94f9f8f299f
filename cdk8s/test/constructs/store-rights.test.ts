/** The rights of store-rights.ts as data: what each regex admits, what each role covers. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SHARED_INDEXES } from '@gossip/store';
import {
  COLLECTIONS,
  ENGINE_ROUTING_KEY,
  deliveryExchange,
  engineQueue,
  gatewayQueue,
  gatewayRoutingKey,
} from '@gossip/protocol';
import {
  mongodbInitScript,
  mongodbPrivileges,
  rabbitmqPermissions,
  redisAclRules,
} from '../../src/constructs/store-rights.js';

describe('store rights', () => {
  it("RabbitMQ: each user's regexes admit exactly its own exchange, queues and routing keys", () => {
    const perms = rabbitmqPermissions('gossip');
    const admits = (re: string, name: string) => new RegExp(re).test(name);
    const gwQueue = gatewayQueue('gossip', 'gossip-gateway-7d9f-abc.x');
    for (const kind of ['configure', 'write', 'read'] as const) {
      assert.ok(admits(perms.gateway[kind], deliveryExchange('gossip')));
      assert.ok(admits(perms.gateway[kind], gwQueue));
      assert.ok(!admits(perms.gateway[kind], engineQueue('gossip')), `gateway ${kind}`);
      assert.ok(admits(perms.engine[kind], engineQueue('gossip')));
      assert.ok(!admits(perms.engine[kind], gwQueue), `engine ${kind}`);
      // A regex is anchored: a longer name that merely contains an allowed one is refused.
      assert.ok(!admits(perms.engine[kind], `${engineQueue('gossip')}.x`));
      assert.ok(!admits(perms.engine[kind], `x${deliveryExchange('gossip')}`));
      // Dots are literal.
      assert.ok(!admits(perms.engine[kind], 'gossipXengine'));
    }
    assert.ok(admits(perms.gateway.topic.write, ENGINE_ROUTING_KEY));
    assert.ok(!admits(perms.gateway.topic.write, gatewayRoutingKey('gw-1')));
    assert.ok(admits(perms.engine.topic.write, gatewayRoutingKey('gw-1')));
    assert.ok(!admits(perms.engine.topic.write, ENGINE_ROUTING_KEY));
    assert.equal(perms.gateway.topic.exchange, 'gossip.delivery');
  });

  it('Redis: nobody gets a dangerous command or every key; the engine only reads presence', () => {
    const rules = redisAclRules('gossip:');
    for (const [who, r] of Object.entries(rules)) {
      assert.equal(r.slice(0, 3).join(' '), 'resetkeys resetchannels -@all', who);
      for (const bad of ['+@all', '~*', '&*', 'allkeys', 'allchannels', '+flushall', '+keys']) {
        assert.ok(!r.includes(bad), `${who}: ${bad}`);
      }
      for (const rule of r.filter((x) => x.includes('~') || x.startsWith('&'))) {
        assert.match(rule, /^(%R)?[~&]gossip:/, `${who}: ${rule}`);
      }
    }
    assert.deepStrictEqual(
      rules.engine.filter((x) => x.includes('~')),
      ['%R~gossip:presence:*'],
    );
  });

  it("MongoDB: each role names only the Gossip database's collections, never a role like root", () => {
    const privileges = mongodbPrivileges();
    const names = new Set(privileges.engine.map((p) => p.collection));
    assert.ok(names.has(COLLECTIONS.messages) && !names.has(COLLECTIONS.refreshTokens));
    assert.ok(
      !privileges.engine.some(
        (p) => p.collection === COLLECTIONS.users && p.actions.includes('update'),
      ),
    );
    const script = mongodbInitScript({
      passwordEnv: { api: 'MONGO_API_PASSWORD', engine: 'MONGO_ENGINE_PASSWORD' },
    });
    assert.doesNotMatch(script, /root|AnyDatabase|"readWrite"|dbOwner/);
    assert.match(script, /pwd: process\.env\["MONGO_ENGINE_PASSWORD"\]/);
    assert.match(script, /"db":"gossip","collection":"messages"/);
    // It is JavaScript mongosh can run (compiled here, not run: FerretDB has no createRole).
    assert.doesNotThrow(() => new Function('db', 'process', script));
  });

  it('MongoDB: the api and the engine may each create every shared index (both do at start)', () => {
    const privileges = mongodbPrivileges();
    for (const component of ['api', 'engine'] as const) {
      for (const ix of SHARED_INDEXES) {
        const collection = COLLECTIONS[ix.coll];
        const actions = privileges[component].find((p) => p.collection === collection)?.actions;
        for (const a of ['createIndex', 'listIndexes']) {
          assert.ok(actions?.includes(a), `${component} ${a} on ${collection} (${ix.name})`);
        }
      }
    }
  });

  it('MongoDB: the api writes attachments and their GridFS ciphertext; the engine only reads, marks and removes them', () => {
    const privileges = mongodbPrivileges();
    const blobs = COLLECTIONS.attachmentBucket;
    const attachmentCollections = [COLLECTIONS.attachments, `${blobs}.files`, `${blobs}.chunks`];
    const actions = (c: 'api' | 'engine', collection: string) =>
      privileges[c].find((p) => p.collection === collection)?.actions ?? [];
    for (const collection of attachmentCollections) {
      for (const a of ['find', 'insert', 'remove', 'createIndex']) {
        assert.ok(actions('api', collection).includes(a), `api ${a} on ${collection}`);
      }
      assert.ok(actions('engine', collection).includes('remove'), `engine remove ${collection}`);
      assert.ok(!actions('engine', collection).includes('insert'), `engine insert ${collection}`);
    }
    assert.ok(actions('engine', COLLECTIONS.attachments).includes('update'), 'engine records acks');
    assert.ok(
      !actions('engine', `${blobs}.chunks`).includes('update'),
      'engine never writes ciphertext',
    );
  });
});
