/**
 * A few promise helpers over IndexedDB, and the web client's one database. Everything an
 * account keeps is keyed by its owner (the local username) first, so several accounts
 * can live in one browser profile without seeing each other's keys.
 */

export const DB_NAME = 'gossip-web';
const DB_VERSION = 1;

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
  /** `{ owner, key }`: the non-extractable AES key the history is encrypted with. */
  devicekey: 'owner',
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
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB could not be opened'));
    req.onblocked = () => reject(new Error('IndexedDB is blocked by another tab: close it'));
  });
  return opening;
}

function done<T>(req: IDBRequest<T>): Promise<T> {
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
  const result = await fn(t);
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
