// Proves RabbitMQ, Redis and FerretDB from the test environment are real and
// usable from Node with the libraries the services use.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import amqp from 'amqplib';
import { Redis } from 'ioredis';
import { MongoClient, MongoServerError } from 'mongodb';
import { testEnv, uniqueName } from '../src/index.js';

const env = testEnv();

test('RabbitMQ: publish with confirms, consume with manual ack, unacked redelivered', async () => {
  const conn = await amqp.connect(env.amqpUrl);
  after(() => conn.close());
  const ch = await conn.createConfirmChannel();
  const q = uniqueName('smoke');
  await ch.assertQueue(q, { durable: true });
  await new Promise<void>((resolve, reject) =>
    ch.sendToQueue(q, Buffer.from('hello'), { persistent: true }, (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  const first = await ch.get(q, { noAck: false });
  assert.ok(first, 'message arrives');
  assert.equal(first.content.toString(), 'hello');
  ch.nack(first, false, true); // back to the queue, as after a consumer crash
  const again = await ch.get(q, { noAck: false });
  assert.ok(again && again.fields.redelivered, 'requeued message is marked redelivered');
  ch.ack(again);
  assert.equal(await ch.get(q, { noAck: false }), false, 'acked message is gone');
  await ch.deleteQueue(q);
});

test('Redis: set/get and a key with a TTL expires', async () => {
  const redis = new Redis(env.redisUrl);
  after(() => redis.quit());
  const key = uniqueName('smoke');
  await redis.set(key, 'v');
  assert.equal(await redis.get(key), 'v');
  await redis.set(`${key}:ttl`, 'x', 'PX', 200);
  const ttl = await redis.pttl(`${key}:ttl`);
  assert.ok(ttl > 0 && ttl <= 200, `TTL set (${ttl} ms)`);
  await sleep(400);
  assert.equal(await redis.get(`${key}:ttl`), null);
});

test('FerretDB via the mongodb driver: insert, unique index rejects a duplicate, find, delete', async () => {
  const client = await new MongoClient(env.mongoUrl).connect();
  const db = client.db(uniqueName('smoke'));
  after(async () => {
    await db.dropDatabase();
    await client.close();
  });
  const coll = db.collection<{ _id?: unknown; msgId: string; n: number }>('messages');
  await coll.createIndex({ msgId: 1 }, { unique: true });
  await coll.insertOne({ msgId: 'a', n: 1 });
  await assert.rejects(
    coll.insertOne({ msgId: 'a', n: 2 }),
    (err: unknown) => err instanceof MongoServerError && err.code === 11000,
  );
  const found = await coll.find({ msgId: 'a' }).toArray();
  assert.equal(found.length, 1);
  assert.equal(found[0]?.n, 1);
  assert.equal((await coll.deleteOne({ msgId: 'a' })).deletedCount, 1);
  assert.equal(await coll.countDocuments(), 0);
});
