/**
 * A few promise helpers over IndexedDB, and the web client's one database. Everything an
 * account keeps is keyed by its owner (the local username) first, so several accounts
 * can live in one browser profile without seeing each other's keys.
 */

export const DB_NAME = 'gossip-web';
/** 2: the v2 (issue 16) stores were added; opening upgrades a version 1 database in place. */
const DB_VERSION = 2;

/** Object stores and their key paths. */
export const STORES = {
  /** `{ key: 'current', tokens }`: the session to resume after a reload. */
  session: 'key',
  /** `{ owner, keys }`: the owner's key pairs (non-extractable `CryptoKey`s). */
  identity: 'owner',
  /** `PinnedContact & { owner }`. */
  pinned: ['owner', 'username'],
  /** `StoredConversationKey & { owner, kid }`. */
  convkeys: ['owner', 'peer', 'kid'],
  /** `{ owner, name: 'seen' | 'outbox', value }`: the Messenger's state. */
  messenger: ['owner', 'name'],
  /** `HistoryRecord`: the local chat history (text encrypted with a device key). */
  history: ['owner', 'peer', 'id'],
  /** `{ owner, key }`: the non-extractable AES key the history and sessions are sealed with. */
  devicekey: 'owner',
  /** v2: `{ owner, key: V2IdentityKey }`, the X25519 identity key (private non-extractable). */
  v2identity: 'owner',
  /** v2: `StoredSignedPrekey & { owner }` (private key non-extractable). */
  signedprekeys: ['owner', 'id'],
  /** v2: `StoredOneTimePrekey & { owner }` (private key non-extractable). */
  onetimeprekeys: ['owner', 'id'],
  /** v2: `{ owner, peer, device, iv, sealed }`: a ratchet session sealed with the device key. */
  sessions: ['owner', 'peer', 'device'],
} as const;

export type StoreName = keyof typeof STORES;

let opening: Promise<IDBDatabase> | undefined;

/** The database, opened (and created or upgraded) once per page. */
export function db(): Promise<IDBDatabase> {
  opening ??= new Promise<IDBDatabase>((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, DB_VERSION);
    req.onupgradeneeded = () => {
      const d = req.result;
      for (const [name, keyPath] of Object.entries(STORES)) {
        if (!d.objectStoreNames.contains(name)) {
          d.createObjectStore(name, { keyPath: keyPath as string | string[] });
        }
      }
    };
    req.onsuccess = () => {
      // Another tab wants to upgrade the database: close this connection so that tab is not
      // blocked; the next use here opens it again.
      req.result.onversionchange = () => {
        req.result.close();
        opening = undefined;
      };
      resolve(req.result);
    };
    req.onerror = () => reject(req.error ?? new Error('IndexedDB could not be opened'));
    req.onblocked = () => reject(new Error('IndexedDB is blocked by another tab: close it'));
  });
  return opening;
}

export function done<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

/** Runs `fn` in one transaction and resolves when it commits. */
export async function tx<T>(
  stores: StoreName | StoreName[],
  mode: IDBTransactionMode,
  fn: (t: IDBTransaction) => Promise<T> | T,
): Promise<T> {
  const d = await db();
  const t = d.transaction(stores, mode);
  const committed = new Promise<void>((resolve, reject) => {
    t.oncomplete = () => resolve();
    t.onerror = () => reject(t.error ?? new Error('IndexedDB transaction failed'));
    t.onabort = () => reject(t.error ?? new Error('IndexedDB transaction aborted'));
  });
  let result: T;
  try {
    result = await fn(t);
  } catch (err) {
    // Nothing `fn` asked for is kept: abort rolls back what it already wrote.
    committed.catch(() => undefined);
    try {
      t.abort();
    } catch {
      // already finished or aborted
    }
    throw err;
  }
  await committed;
  return result;
}

export function get<T>(store: StoreName, key: IDBValidKey): Promise<T | undefined> {
  return tx(store, 'readonly', (t) => done(t.objectStore(store).get(key)) as Promise<T>);
}

export function put(store: StoreName, value: unknown): Promise<void> {
  return tx(store, 'readwrite', async (t) => {
    await done(t.objectStore(store).put(value));
  });
}

export function del(store: StoreName, key: IDBValidKey | IDBKeyRange): Promise<void> {
  return tx(store, 'readwrite', async (t) => {
    await done(t.objectStore(store).delete(key));
  });
}

/** Every record whose compound key starts with `prefix`. */
export function getByPrefix<T>(store: StoreName, prefix: IDBValidKey[]): Promise<T[]> {
  return tx(
    store,
    'readonly',
    (t) => done(t.objectStore(store).getAll(prefixRange(prefix))) as Promise<T[]>,
  );
}

/** Deletes every record whose compound key starts with `prefix`. */
export function deleteByPrefix(store: StoreName, prefix: IDBValidKey[]): Promise<void> {
  return del(store, prefixRange(prefix));
}

/** The keys `[...prefix, anything]`: arrays sort after every other key type. */
export function prefixRange(prefix: IDBValidKey[]): IDBKeyRange {
  return IDBKeyRange.bound(prefix, [...prefix, []]);
}
