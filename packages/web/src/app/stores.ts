/**
 * The browser's persistence for one local account, all in IndexedDB:
 *
 * - `IdbKeyStore`: the SDK's `KeyStore`. Key pairs are kept as the `CryptoKey` objects
 *   themselves (structured clone), generated non-extractable, so page script can use
 *   them but never read their bytes. The v2 X25519 identity key and one-time prekeys
 *   are stored non-extractable too: the SDK makes them extractable
 *   (`generateX25519KeyPair`), so the store re-imports an extractable one before keeping
 *   it. Two cannot be non-extractable: a signed prekey (the SDK needs its bytes: it is
 *   the first ratchet key of a session accepted with it) and the ratchet sessions (a
 *   serialized state whose chain keys and ratchet private keys are raw bytes). Both are
 *   sealed with the device key (AES-GCM, bound to what the record is); a session is
 *   written, with the one-time prekey it consumed deleted, in one IndexedDB transaction.
 * - `IdbMessengerStore`: the Messenger's seen-set and outbox (ciphertext only).
 * - `History`: what the user saw and sent, so the chat survives a reload. The text is
 *   encrypted with a per-account non-extractable AES-GCM "device key" kept beside it.
 *   Sealing with a key kept beside the data keeps the bytes out of plain sight (a dump
 *   of the records, a copied profile folder read naively); it is no protection against
 *   script running in the page, which can use the key.
 * - the session (access and refresh token) to resume after a reload, like the CLI's
 *   session.json.
 */
import type {
  KeyStore,
  MessengerStore,
  PinnedContact,
  SessionTokens,
  StoredConversationKey,
  StoredOneTimePrekey,
  StoredSession,
  StoredSignedPrekey,
  V2IdentityKey,
} from '@gossip/client';
import { newestKey } from '@gossip/client';
import type { IdentityKeys } from '@gossip/crypto';
import type { SendFrame } from '@gossip/protocol';
import { deleteByPrefix, del, done, get, getByPrefix, put, tx } from './idb.js';

type Owned<T> = T & { owner: string };

/** The SDK's key store over IndexedDB, for the account `owner`. */
export class IdbKeyStore implements KeyStore {
  readonly requiresExtractable = false;
  constructor(readonly owner: string) {}

  async getIdentity(): Promise<IdentityKeys | undefined> {
    return (await get<{ owner: string; keys: IdentityKeys }>('identity', this.owner))?.keys;
  }
  async putIdentity(keys: IdentityKeys): Promise<void> {
    await put('identity', { owner: this.owner, keys });
  }
  async deleteIdentity(): Promise<void> {
    await del('identity', this.owner);
  }

  async getPinned(username: string): Promise<PinnedContact | undefined> {
    const rec = await get<Owned<PinnedContact>>('pinned', [this.owner, username]);
    return rec && strip(rec);
  }
  async putPinned(contact: PinnedContact): Promise<void> {
    await put('pinned', { ...contact, owner: this.owner });
  }
  async deletePinned(username: string): Promise<void> {
    await del('pinned', [this.owner, username]);
  }
  async listPinned(): Promise<PinnedContact[]> {
    return (await getByPrefix<Owned<PinnedContact>>('pinned', [this.owner])).map(strip);
  }

  async getConversationKey(peer: string, kid: string): Promise<StoredConversationKey | undefined> {
    const rec = await get<StoredKeyRecord>('convkeys', [this.owner, peer, kid]);
    return rec && fromKeyRecord(rec);
  }
  async putConversationKey(entry: StoredConversationKey): Promise<boolean> {
    // Check and insert in one transaction: a key id once stored is never replaced.
    return tx('convkeys', 'readwrite', async (t) => {
      const store = t.objectStore('convkeys');
      const key = [this.owner, entry.peer, entry.key.id];
      const existing = await new Promise<number>((resolve, reject) => {
        const r = store.count(key);
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error ?? new Error('IndexedDB count failed'));
      });
      if (existing > 0) return false;
      store.add({ ...entry, owner: this.owner, kid: entry.key.id } satisfies StoredKeyRecord);
      return true;
    });
  }
  async confirmConversationKey(peer: string, kid: string): Promise<void> {
    const rec = await get<StoredKeyRecord>('convkeys', [this.owner, peer, kid]);
    if (rec && !rec.confirmed) await put('convkeys', { ...rec, confirmed: true });
  }
  async currentConversationKey(peer: string): Promise<StoredConversationKey | undefined> {
    const all = await getByPrefix<StoredKeyRecord>('convkeys', [this.owner, peer]);
    return newestKey(all.map(fromKeyRecord));
  }
  async retireConversationKeys(peer: string): Promise<void> {
    const all = await getByPrefix<StoredKeyRecord>('convkeys', [this.owner, peer]);
    for (const rec of all) if (!rec.retired) await put('convkeys', { ...rec, retired: true });
  }
  async deleteConversationKeys(peer: string): Promise<void> {
    await deleteByPrefix('convkeys', [this.owner, peer]);
  }

  // ------------------------------------------------------------------ v2 (issue 16)

  async getV2Identity(): Promise<V2IdentityKey | undefined> {
    return (await get<{ key: V2IdentityKey }>('v2identity', this.owner))?.key;
  }
  async putV2Identity(key: V2IdentityKey): Promise<void> {
    const keyPair = await nonExtractable(key.keyPair);
    await put('v2identity', { owner: this.owner, key: { ...key, keyPair } });
  }

  async listSignedPrekeys(): Promise<StoredSignedPrekey[]> {
    const all = await getByPrefix<SealedSignedPrekey>('signedprekeys', [this.owner]);
    const list = await Promise.all(all.map((r) => this.openSignedPrekey(r)));
    return list.sort((x, y) => y.createdAt - x.createdAt || y.id - x.id);
  }
  async putSignedPrekey(prekey: StoredSignedPrekey): Promise<void> {
    // Extractable by the SDK's contract (it becomes the first ratchet key of a session
    // accepted with it, whose bytes go into the state), so kept sealed like a session.
    const pkcs8 = await crypto.subtle.exportKey('pkcs8', prekey.keyPair.privateKey);
    const rec: SealedSignedPrekey = {
      owner: this.owner,
      id: prekey.id,
      signature: prekey.signature,
      createdAt: prekey.createdAt,
      publicKey: prekey.keyPair.publicKey,
      ...(await seal(this.owner, signedPrekeyAad(this.owner, prekey.id), new Uint8Array(pkcs8))),
    };
    await put('signedprekeys', rec);
  }
  async deleteSignedPrekey(id: number): Promise<void> {
    await del('signedprekeys', [this.owner, id]);
  }

  async getOneTimePrekey(id: number): Promise<StoredOneTimePrekey | undefined> {
    const rec = await get<Owned<StoredOneTimePrekey>>('onetimeprekeys', [this.owner, id]);
    return rec && strip(rec);
  }
  async listOneTimePrekeyIds(): Promise<number[]> {
    return tx('onetimeprekeys', 'readonly', async (t) => {
      const keys = await done(t.objectStore('onetimeprekeys').getAllKeys(prefixOf(this.owner)));
      return keys.map((k) => (k as [string, number])[1]);
    });
  }
  async putOneTimePrekeys(prekeys: StoredOneTimePrekey[]): Promise<void> {
    // Re-import first: a transaction closes when it waits on anything but its requests.
    const recs = await Promise.all(
      prekeys.map(async (p) => ({
        ...p,
        keyPair: await nonExtractable(p.keyPair),
        owner: this.owner,
      })),
    );
    await tx('onetimeprekeys', 'readwrite', (t) => {
      const store = t.objectStore('onetimeprekeys');
      for (const rec of recs) store.put(rec);
    });
  }
  async deleteOneTimePrekey(id: number): Promise<void> {
    await del('onetimeprekeys', [this.owner, id]);
  }

  async getSession(peer: string, device: string): Promise<StoredSession | undefined> {
    const rec = await get<SealedSession>('sessions', [this.owner, peer, device]);
    return rec && this.openSession(rec);
  }
  async putSession(session: StoredSession, consumedOneTimePrekey?: number): Promise<void> {
    const rec = await this.sealSession(session);
    // One transaction: the new state and the consumed one-time prekey's deletion commit
    // together or not at all.
    await tx(['sessions', 'onetimeprekeys'], 'readwrite', (t) => {
      if (consumedOneTimePrekey !== undefined) {
        t.objectStore('onetimeprekeys').delete([this.owner, consumedOneTimePrekey]);
      }
      t.objectStore('sessions').put(rec);
    });
  }
  async listSessions(): Promise<StoredSession[]> {
    const recs = await getByPrefix<SealedSession>('sessions', [this.owner]);
    return Promise.all(recs.map((r) => this.openSession(r)));
  }
  async deleteSessions(peer: string): Promise<void> {
    await deleteByPrefix('sessions', [this.owner, peer]);
  }

  /**
   * Runs `step` while no other tab of this origin runs one for this account (a Web Lock
   * named after the account), so two tabs never step the same ratchet at once. Without
   * Web Locks (an old browser), steps are only serialised within this page.
   */
  async exclusive<T>(step: () => Promise<T>): Promise<T> {
    const locks = (globalThis.navigator as Navigator | undefined)?.locks;
    if (locks) return await locks.request(`gossip-web/ratchet/${this.owner}`, () => step());
    const run = this.localTurn.then(step, step);
    this.localTurn = run.then(
      () => undefined,
      () => undefined,
    );
    return await run;
  }
  private localTurn: Promise<void> = Promise.resolve();

  private async sealSession(session: StoredSession): Promise<SealedSession> {
    const plain = new TextEncoder().encode(JSON.stringify(session));
    const aad = sessionAad(this.owner, session.peer, session.device);
    const sealed = await seal(this.owner, aad, plain);
    return { owner: this.owner, peer: session.peer, device: session.device, ...sealed };
  }

  private async openSession(rec: SealedSession): Promise<StoredSession> {
    const aad = sessionAad(rec.owner, rec.peer, rec.device);
    const plain = await unseal(this.owner, aad, rec).catch((err: unknown) => {
      throw new Error(`the stored session with ${rec.peer} (${rec.device}) cannot be opened`, {
        cause: err,
      });
    });
    return JSON.parse(new TextDecoder().decode(plain)) as StoredSession;
  }

  private async openSignedPrekey(rec: SealedSignedPrekey): Promise<StoredSignedPrekey> {
    const pkcs8 = await unseal(this.owner, signedPrekeyAad(rec.owner, rec.id), rec).catch(
      (err: unknown) => {
        throw new Error(`the stored signed prekey ${rec.id} cannot be opened`, { cause: err });
      },
    );
    const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'X25519' }, true, [
      'deriveBits',
    ]);
    const { id, signature, createdAt, publicKey } = rec;
    return { id, signature, createdAt, keyPair: { privateKey, publicKey } };
  }
}

/** A ratchet session at rest: the `StoredSession` as JSON, sealed with the device key. */
type SealedSession = Sealed & { owner: string; peer: string; device: string };

/** A signed prekey at rest: its private key's PKCS#8 sealed with the device key. */
type SealedSignedPrekey = Sealed & {
  owner: string;
  id: number;
  signature: string;
  createdAt: number;
  publicKey: CryptoKey;
};

function sessionAad(owner: string, peer: string, device: string): string {
  return JSON.stringify(['gossip-web/session/1', owner, peer, device]);
}

function signedPrekeyAad(owner: string, id: number): string {
  return JSON.stringify(['gossip-web/signed-prekey/1', owner, id]);
}

/**
 * The pair with a non-extractable private key: an extractable one is exported once and
 * imported again with `extractable` false (same usages). The public key stays as it is
 * (WebCrypto makes public keys extractable always).
 */
async function nonExtractable(pair: CryptoKeyPair): Promise<CryptoKeyPair> {
  const k = pair.privateKey;
  if (!k.extractable) return pair;
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', k);
  const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, k.algorithm, false, k.usages);
  return { privateKey, publicKey: pair.publicKey };
}

function prefixOf(owner: string): IDBKeyRange {
  return IDBKeyRange.bound([owner], [owner, []]);
}

type StoredKeyRecord = Owned<StoredConversationKey> & { kid: string };

function fromKeyRecord(rec: StoredKeyRecord): StoredConversationKey {
  return {
    peer: rec.peer,
    key: rec.key,
    origin: rec.origin,
    createdAt: rec.createdAt,
    confirmed: rec.confirmed,
    ...(rec.retired ? { retired: true } : {}),
  };
}

function strip<T>(rec: Owned<T>): T {
  const { owner: _owner, ...rest } = rec;
  return rest as T;
}

/** The Messenger's seen-set and outbox over IndexedDB. */
export class IdbMessengerStore implements MessengerStore {
  constructor(readonly owner: string) {}
  async loadSeen(): Promise<string[]> {
    return (await get<{ value: string[] }>('messenger', [this.owner, 'seen']))?.value ?? [];
  }
  async saveSeen(ids: string[]): Promise<void> {
    await put('messenger', { owner: this.owner, name: 'seen', value: ids });
  }
  async loadOutbox(): Promise<SendFrame[]> {
    return (await get<{ value: SendFrame[] }>('messenger', [this.owner, 'outbox']))?.value ?? [];
  }
  async saveOutbox(frames: SendFrame[]): Promise<void> {
    await put('messenger', { owner: this.owner, name: 'outbox', value: frames });
  }
}

// ---------------------------------------------------------------- the session

/** The session to resume after a reload, or null when logged out. */
export async function loadSession(): Promise<SessionTokens | null> {
  return (await get<{ tokens: SessionTokens }>('session', 'current'))?.tokens ?? null;
}

export async function saveSession(tokens: SessionTokens | null): Promise<void> {
  if (tokens) await put('session', { key: 'current', tokens });
  else await del('session', 'current');
}

// ---------------------------------------------------------------- the device key

const deviceKeys = new Map<string, Promise<CryptoKey>>();

/**
 * The owner's non-extractable AES-GCM key that history text and ratchet sessions are
 * sealed with, made on first use. Added, never replaced: if two pages make one at once,
 * the one stored first wins and both use it.
 */
function deviceKey(owner: string): Promise<CryptoKey> {
  let key = deviceKeys.get(owner);
  if (!key) {
    key = (async () => {
      const found = await get<{ key: CryptoKey }>('devicekey', owner);
      if (found) return found.key;
      const made = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, [
        'encrypt',
        'decrypt',
      ]);
      try {
        await tx('devicekey', 'readwrite', (t) => {
          t.objectStore('devicekey').add({ owner, key: made });
        });
        return made;
      } catch (err) {
        const stored = await get<{ key: CryptoKey }>('devicekey', owner);
        if (stored) return stored.key;
        throw err;
      }
    })();
    // A failure is not kept: the next use tries again.
    key.catch(() => deviceKeys.delete(owner));
    deviceKeys.set(owner, key);
  }
  return key;
}

/** Bytes AES-GCM encrypted under the owner's device key. */
interface Sealed {
  iv: Uint8Array;
  sealed: ArrayBuffer;
}

/** Encrypts `plain` under the owner's device key, bound to `aad` (what the bytes are). */
async function seal(owner: string, aad: string, plain: Uint8Array<ArrayBuffer>): Promise<Sealed> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(aad) },
    await deviceKey(owner),
    plain,
  );
  return { iv, sealed };
}

/** The bytes `seal` was given; throws if the key, the `aad` or the bytes differ. */
async function unseal(owner: string, aad: string, rec: Sealed): Promise<ArrayBuffer> {
  return crypto.subtle.decrypt(
    {
      name: 'AES-GCM',
      iv: rec.iv as Uint8Array<ArrayBuffer>,
      additionalData: new TextEncoder().encode(aad),
    },
    await deviceKey(owner),
    rec.sealed,
  );
}

// ---------------------------------------------------------------- history

/** Where an outgoing message is; incoming ones are `received`. */
export type MessageState = 'sending' | 'accepted' | 'delivered' | 'failed' | 'received';

/** One chat line, as the page shows it. */
export interface ChatLine {
  id: string;
  peer: string;
  direction: 'in' | 'out';
  text: string;
  /** ms since the epoch: the server's for incoming, the local clock's for outgoing. */
  at: number;
  state: MessageState;
}

/** The UTF-8 text is sealed with the device key, bound to `peer/id`. */
interface HistoryRecord extends Sealed {
  owner: string;
  peer: string;
  id: string;
  direction: 'in' | 'out';
  at: number;
  state: MessageState;
}

/** The local chat history of one account. */
export class History {
  constructor(readonly owner: string) {}

  async add(line: ChatLine): Promise<void> {
    const text = new TextEncoder().encode(line.text);
    const rec: HistoryRecord = {
      owner: this.owner,
      peer: line.peer,
      id: line.id,
      direction: line.direction,
      at: line.at,
      state: line.state,
      ...(await seal(this.owner, `${line.peer}/${line.id}`, text)),
    };
    await put('history', rec);
  }

  /** Moves an outgoing message forward (never back: `delivered` beats a late `accepted`). */
  async setState(peer: string, id: string, state: MessageState): Promise<boolean> {
    const rec = await get<HistoryRecord>('history', [this.owner, peer, id]);
    if (!rec || rank(state) <= rank(rec.state)) return false;
    await put('history', { ...rec, state });
    return true;
  }

  async list(peer: string): Promise<ChatLine[]> {
    const recs = await getByPrefix<HistoryRecord>('history', [this.owner, peer]);
    const lines = await Promise.all(
      recs.map(async (r): Promise<ChatLine> => {
        let text: string;
        try {
          text = new TextDecoder().decode(await unseal(this.owner, `${r.peer}/${r.id}`, r));
        } catch {
          text = '(this message cannot be read on this device any more)';
        }
        return { id: r.id, peer: r.peer, direction: r.direction, text, at: r.at, state: r.state };
      }),
    );
    return lines.sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1));
  }

  async has(peer: string, id: string): Promise<boolean> {
    return (await get<HistoryRecord>('history', [this.owner, peer, id])) !== undefined;
  }
}

const ORDER: MessageState[] = ['sending', 'accepted', 'delivered'];
function rank(s: MessageState): number {
  if (s === 'failed' || s === 'received') return 99;
  return ORDER.indexOf(s);
}
