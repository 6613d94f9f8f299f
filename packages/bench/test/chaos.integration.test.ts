/**
 * The short resilience run inside `npm test`: a steady load of real accounts through two
 * engines, two gateways and the api while each of engine, gateway, api, RabbitMQ, Redis and
 * the store is killed with SIGKILL and restarted in turn (private servers, so the shared
 * test environment is never killed). Nothing accepted may be lost, nothing shown twice,
 * nothing left in MongoDB after the acks. No assertion on time.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { testEnv, uniqueName } from '@gossip/testenv';
import { eventually, Stack } from '../../../services/gateway/test/support/stack.js';
import { ReliableClient } from '../../../services/gateway/test/support/wsclient.js';
import { Backing } from '../src/backing.js';
import { chaosTable, FAULTS, runChaos } from '../src/chaos.js';

describe('resilience: kill -9 of each component under load', () => {
  it('loses no accepted message, shows none twice, leaves nothing in MongoDB', async () => {
    const dir = join(testEnv().dir, 'scratch', uniqueName('chaos'));
    const r = await runChaos({
      dir,
      pairs: 6,
      rate: 10,
      rounds: 1,
      warmMs: 2000,
      downMs: 3000,
      settleMinMs: 1500,
      settleMaxMs: 20_000,
      finalSettleMs: 60_000,
      redeliverySeconds: 2,
      say: (line) => console.log(`[chaos] ${line}`),
    });
    console.log(chaosTable(r));
    console.log(`left in MongoDB: ${r.leftInStore}; took ${Math.round(r.durationMs / 1000)} s`);

    // Every fault ran, under load: each phase created messages.
    assert.deepEqual(
      r.phases.map((p) => p.fault),
      ['warm-up', ...FAULTS],
    );
    for (const p of r.phases) assert.ok(p.sent > 0, `no load during ${p.fault}`);
    const t = r.total;
    assert.ok(t.sent >= 200, `only ${t.sent} messages sent`);
    assert.equal(t.refused, 0, 'the server refused sends for good');
    assert.ok(r.settled, 'did not settle: something stayed unaccepted, unshown or unacked');
    assert.equal(t.lost, 0, 'accepted messages were never shown');
    assert.equal(t.dupShown, 0, 'messages were shown to the app twice');
    assert.equal(t.unaccepted, 0, 'sends were never accepted');
    assert.equal(t.accepted, t.sent);
    assert.equal(t.shown, t.accepted, 'every accepted message is shown');
    assert.equal(r.leftInStore, 0, 'messages stayed in MongoDB after their acks');
    // The api was on the path: clients dropped during its outage had to wait for a token.
    const apiPhase = r.phases.find((p) => p.fault === 'api')!;
    assert.ok(apiPhase.tokenRetries > 0, 'no token fetch waited for the api');
    // The servers' data goes; their and the services' logs stay for a look.
    rmSync(join(dir, 'data'), { recursive: true, force: true });
  });

  it('a message accepted while Redis is down reaches its recipient, connected all along, when Redis comes back with its data', async () => {
    // Redis with persistence: the presence claims survive the restart, so no gateway sees
    // them lost and nothing asks for a replay. The message must still get through.
    const dir = join(testEnv().dir, 'scratch', uniqueName('chaos-redis-kept'));
    const backing = await Backing.start(dir, () => undefined);
    const stack = new Stack('redis-kept', backing.servers());
    stack.redis.on('error', () => undefined);
    const clients: ReliableClient[] = [];
    try {
      await stack.createUsers('alice', 'bob');
      await stack.makeContacts('alice', 'bob');
      await stack.startEngine({ ENGINE_REDELIVERY_SECONDS: '1', ENGINE_SCAN_INTERVAL_MS: '200' });
      const gw = await stack.startGateway();
      const alice = new ReliableClient({
        urls: () => [gw.wsUrl],
        token: () => stack.token('alice'),
      });
      const bob = new ReliableClient({ urls: () => [gw.wsUrl], token: () => stack.token('bob') });
      clients.push(alice, bob);
      await Promise.all([alice.start(), bob.start()]);
      const first = alice.sendMessage('bob', 'before');
      await eventually(() => bob.seen.has(first), 'the first message shown');
      const connects = bob.connects;

      await stack.redis.save();
      await backing.kill9('redis');
      const during = alice.sendMessage('bob', 'during the outage');
      await eventually(() => alice.accepted.has(during), 'the message accepted during the outage');
      // Long enough for the live route and then the redelivery scan to find no presence.
      await new Promise((r) => setTimeout(r, 3000));
      await backing.restart('redis');

      await eventually(
        () => bob.seen.has(during),
        'the message accepted during the outage shown',
        30_000,
      );
      assert.equal(bob.connects, connects, 'bob reconnected, so this proves nothing');
    } finally {
      await Promise.allSettled(clients.map((c) => c.stop()));
      await stack.close().catch(() => undefined);
      await backing.stop();
    }
    rmSync(join(dir, 'data'), { recursive: true, force: true });
  });
});
