/**
 * One stack's own corner of shared servers: a MongoDB database, an AMQP name prefix and a
 * Redis key prefix derived from one unique name, and the clean-up that removes them.
 */
import { MongoClient } from 'mongodb';
import { Redis } from 'ioredis';
import { uniqueName } from '../state.js';
import type { BackingUrls, Isolation } from './launcher.js';

/** A unique name fit for all three (lower case, digits and dashes). */
export function stackNamespace(prefix: string): string {
  return uniqueName(prefix).replace(/[^a-z0-9-]/g, '-');
}

/** The database, AMQP prefix and Redis prefix of namespace `ns`. */
export function isolationFor(ns: string): Isolation {
  return { mongoDb: ns.replace(/-/g, '_'), amqpPrefix: `t.${ns}`, redisPrefix: `${ns}:` };
}

/**
 * Drops the stack's database and deletes its Redis keys (best effort for the database:
 * a store that is down, after a chaos run, must not fail the clean-up of the rest).
 */
export async function dropIsolated(servers: BackingUrls, iso: Isolation): Promise<void> {
  const mongo = new MongoClient(servers.mongoUrl);
  try {
    await mongo
      .db(iso.mongoDb)
      .dropDatabase()
      .catch(() => undefined);
  } finally {
    await mongo.close();
  }
  const redis = new Redis(servers.redisUrl);
  try {
    const keys = await redis.keys(`${iso.redisPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}
