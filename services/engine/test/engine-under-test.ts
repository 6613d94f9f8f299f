/**
 * A real engine in this process on the test environment's RabbitMQ, FerretDB and Redis, in
 * an AMQP prefix, database and Redis prefix of its own (all named `prefix`), and the
 * gateway the tests play: a channel that publishes to the engine and reads the gateway
 * queue of `gw`, each message parsed with the protocol's schema.
 */
import { randomUUID } from 'node:crypto';
import amqp, { type Channel } from 'amqplib';
import {
  deliveryExchange,
  ENGINE_ROUTING_KEY,
  engineQueue,
  gatewayQueue,
  gatewayRoutingKey,
  parseGatewayMessage,
  type EngineMessage,
} from '@gossip/protocol';
import type { MongoClient } from 'mongodb';
import type { MessageDoc } from '@gossip/store';
import { createLogger } from '@gossip/servicekit';
import { testEnv } from '@gossip/testenv';
import { Engine, loadConfig } from '../src/index.js';

export interface EngineUnderTest {
  engine: Engine;
  /** Publishes `m` to the engine, as a gateway does. */
  publish(m: EngineMessage): void;
  /** Stops the engine, deletes its queue and exchange (this test's alone), closes the channel. */
  close(): Promise<void>;
}

export interface EngineUnderTestOptions {
  /** The AMQP prefix, the database and (with `:`) the Redis prefix. */
  prefix: string;
  /** The gateway id whose queue the test reads. */
  gw: string;
  /** More `ENGINE_*` variables. */
  env?: Record<string, string>;
  /** Each message on the gateway queue, parsed (a failed parse included). */
  onMessage: (parsed: ReturnType<typeof parseGatewayMessage>) => void;
}

export async function startEngineUnderTest(o: EngineUnderTestOptions): Promise<EngineUnderTest> {
  const env = testEnv();
  const engine = new Engine(
    loadConfig({
      ENGINE_PORT: '0',
      ENGINE_HOST: '127.0.0.1',
      ENGINE_AMQP_URL: env.amqpUrl,
      ENGINE_MONGO_URL: env.mongoUrl,
      ENGINE_MONGO_DB: o.prefix,
      ENGINE_REDIS_URL: env.redisUrl,
      ENGINE_AMQP_PREFIX: o.prefix,
      ENGINE_REDIS_PREFIX: `${o.prefix}:`,
      ENGINE_LOG_LEVEL: 'silent',
      ...o.env,
    }),
    createLogger({ name: 'engine', level: 'silent' }),
  );
  await engine.start();
  let ch: Channel | undefined;
  const conn = await amqp.connect(env.amqpUrl).catch(async (err: unknown) => {
    await engine.stop();
    throw err;
  });
  const close = async (): Promise<void> => {
    await engine.stop();
    await ch?.deleteQueue(engineQueue(o.prefix)).catch(() => undefined);
    await ch?.deleteExchange(deliveryExchange(o.prefix)).catch(() => undefined);
    await conn.close().catch(() => undefined);
  };
  try {
    ch = await conn.createChannel();
    const q = gatewayQueue(o.prefix, o.gw);
    await ch.assertQueue(q, { durable: false, autoDelete: true });
    await ch.bindQueue(q, deliveryExchange(o.prefix), gatewayRoutingKey(o.gw));
    await ch.consume(q, (msg) => msg && o.onMessage(parseGatewayMessage(msg.content)), {
      noAck: true,
    });
  } catch (err) {
    await close();
    throw err;
  }
  const channel = ch;
  return {
    engine,
    publish: (m) => {
      channel.publish(
        deliveryExchange(o.prefix),
        ENGINE_ROUTING_KEY,
        Buffer.from(JSON.stringify(m)),
      );
    },
    close,
  };
}

/** A test's tear-down of its database: dropped (best effort), then the client closed. */
export async function dropDatabaseAndClose(mongo: MongoClient, db: string): Promise<void> {
  await mongo
    .db(db)
    .dropDatabase()
    .catch(() => undefined);
  await mongo.close();
}

/**
 * `count` messages from `from` to `to`, stored as if delivered 5 s ago (seq and sentAt
 * one ms apart, in order), for the tests to insert and ack.
 */
export function deliveredMessages(from: string, to: string, count: number): MessageDoc[] {
  const base = Date.now() - 5_000;
  return Array.from({ length: count }, (_, i) => ({
    _id: randomUUID(),
    from,
    to,
    kind: 'message',
    body: 'Y2lwaGVydGV4dA',
    sentAt: new Date(base + i),
    seq: base + i,
    attempts: 0,
    deliveredAt: new Date(base + i),
    dueAt: null,
  }));
}
