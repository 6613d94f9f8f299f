/**
 * The api's indexes when another service got there first: the engine creates
 * `events {to: 1, at: 1}` under its own name, and the api must still make all of its own
 * (it used to stop at that one, IndexOptionsConflict, and retry forever).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient } from 'mongodb';
import { COLLECTIONS } from '@gossip/protocol';
import { testEnv, uniqueName } from '@gossip/testenv';
import { ensureIndexes } from '../src/store.js';

describe('api indexes', () => {
  const mongo = new MongoClient(testEnv().mongoUrl);
  const db = mongo.db(uniqueName('api-idx').replace(/-/g, '_'));
  after(async () => {
    await db.dropDatabase().catch(() => undefined);
    await mongo.close();
  });

  it('are all made when the engine already made events {to, at} under another name', async () => {
    await db.collection(COLLECTIONS.events).createIndex({ to: 1, at: 1 }, { name: 'to_at' });
    await ensureIndexes(db);
    await ensureIndexes(db); // and again: idempotent
    const keys = async (coll: string): Promise<string[]> =>
      (await db.collection(coll).listIndexes().toArray()).map((i) =>
        JSON.stringify(i.key as Record<string, number>),
      );
    const tokens = await keys(COLLECTIONS.refreshTokens);
    assert.ok(tokens.includes('{"username":1}'), tokens.join(' '));
    assert.ok(tokens.includes('{"family":1}'), tokens.join(' '));
    assert.ok((await keys(COLLECTIONS.events)).includes('{"from":1}'));
  });
});
