/**
 * The engine's presence answers for live pushes ({@link PresenceCache}) against the test
 * environment's Redis: lookups of one user in flight share one `HGETALL`, an answer naming
 * a gateway is kept, an offline one is not, and `forget` (a `connected`) drops the kept
 * answer and keeps a read in flight at that moment from being kept.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { presenceKey } from '@gossip/protocol';
import { testEnv, uniqueName } from '@gossip/testenv';
import { lookupPresence, PresenceCache } from '../src/presence.js';

describe('engine presence cache', () => {
  const prefix = `${uniqueName('presence')}:`;
  const redis = new Redis(testEnv().redisUrl, { lazyConnect: true });
  let reads = 0;
  /** A cache over the real lookup, counting the `HGETALL`s it sends. */
  const cache = (ttlMs: number): PresenceCache =>
    new PresenceCache((u) => {
      reads++;
      return lookupPresence(redis, prefix, u);
    }, ttlMs);
  const online = (user: string, gw: string) =>
    redis.hset(prefix + presenceKey(user), gw, String(Date.now() + 60_000));
  const leave = (user: string, gw: string) => redis.hdel(prefix + presenceKey(user), gw);

  before(() => redis.connect());
  after(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  test('lookups in flight share one read; a gateway answer is kept, an offline one is not', async () => {
    const c = cache(600_000);
    await online('ann', 'gw-1');
    reads = 0;
    const answers = await Promise.all(Array.from({ length: 10 }, () => c.get('ann')));
    assert.equal(reads, 1);
    for (const a of answers) assert.deepEqual(a, ['gw-1']);
    // Kept: a move Redis knows of is not seen until the answer is dropped.
    await leave('ann', 'gw-1');
    await online('ann', 'gw-2');
    assert.deepEqual(await c.get('ann'), ['gw-1']);
    assert.equal(reads, 1);
    c.forget('ann');
    assert.deepEqual(await c.get('ann'), ['gw-2']);
    assert.equal(reads, 2);
    // Offline: read every time.
    reads = 0;
    assert.deepEqual(await c.get('nobody-here'), []);
    assert.deepEqual(await c.get('nobody-here'), []);
    assert.equal(reads, 2);
  });

  test('a forget while a read is in flight: later lookups read anew, the answer is not kept', async () => {
    const c = cache(600_000);
    await online('ben', 'gw-1');
    reads = 0;
    // One connection runs commands in order: the first read sees gw-1, the second none.
    const first = c.get('ben');
    const left = leave('ben', 'gw-1');
    c.forget('ben');
    const second = c.get('ben');
    assert.deepEqual(await first, ['gw-1']);
    await left;
    assert.deepEqual(await second, []);
    assert.equal(reads, 2, 'the lookup after the forget did not join the read before it');
    // The first answer, read before the forget, was not kept.
    assert.deepEqual(await c.get('ben'), []);
    assert.equal(reads, 3);
    // And with nothing kept (ttl 0), only reads in flight are shared.
    const none = cache(0);
    reads = 0;
    await online('cy', 'gw-3');
    await Promise.all([none.get('cy'), none.get('cy')]);
    await none.get('cy');
    assert.equal(reads, 2);
  });
});
