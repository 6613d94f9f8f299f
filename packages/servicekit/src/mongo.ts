/** MongoDB helpers shared by the services that own collections (api, engine). */
import { MongoServerError, type CreateIndexesOptions, type IndexSpecification } from 'mongodb';

/** Any collection: only its `createIndex` is used. */
interface Indexable {
  createIndex(key: IndexSpecification, options?: CreateIndexesOptions): Promise<string>;
}

/**
 * Creates one index, idempotently; the same keys under another name (another service's,
 * or another engine starting at once) are as good. IndexOptionsConflict (85) and
 * IndexKeySpecsConflict (86) are therefore not errors: the api once stopped making its
 * later indexes when the engine had made `events {to: 1, at: 1}` first as `to_at`.
 */
export async function ensureIndex(
  coll: Indexable,
  key: IndexSpecification,
  options: CreateIndexesOptions = {},
): Promise<void> {
  try {
    await coll.createIndex(key, options);
  } catch (err) {
    if (!(err instanceof MongoServerError && (err.code === 85 || err.code === 86))) throw err;
  }
}
