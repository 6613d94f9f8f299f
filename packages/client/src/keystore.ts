/**
 * Local key storage. One `KeyStore` belongs to one local account (one user on one
 * server) and holds its secrets: the user's own key pairs, the contacts' public keys
 * pinned on first use, and the conversation keys.
 *
 * The interface deals in `CryptoKey` objects and is asynchronous so that a browser
 * implementation can keep them in IndexedDB as they are (structured clone keeps
 * non-extractable keys non-extractable: set `extractable` false there). The memory
 * store here and the Node file store in `@gossip/client/node` need extractable keys.
 */
import type { ConversationKey, IdentityKeys } from '@gossip/crypto';

/** A contact's public keys as pinned (trusted) by this user. */
export interface PinnedContact {
  username: string;
  /** base64 SPKI, exactly as published. */
  wrappingKey: string;
  /** base64 SPKI of the Ed25519 signing key. */
  signingKey: string;
  /** The directory's key version when pinned. */
  keyVersion: number;
  /** The 30-digit fingerprint of these keys (packages/crypto `fingerprint`). */
  fingerprint: string;
  /** When these keys were pinned, ms since the epoch. */
  pinnedAt: number;
  /** The user compared safety numbers and marked the contact verified. */
  verified: boolean;
  /**
   * The contact was verified, then their keys changed: nothing is sent to them until they
   * are verified again (absent: false).
   */
  needsVerification?: boolean;
}

/** A conversation key and where it came from. */
export interface StoredConversationKey {
  /** The contact it is shared with. */
  peer: string;
  key: ConversationKey;
  /** `outgoing`: we made it and sent it; `incoming`: the contact sent it to us. */
  origin: 'outgoing' | 'incoming';
  /**
   * When this client made it (outgoing) or received it (incoming), by the LOCAL clock, ms
   * since the epoch. Never the peer's envelope timestamp: a peer (or a server replaying
   * envelopes) could otherwise post-date a key so it stays the sending key forever.
   */
  createdAt: number;
  /**
   * For an outgoing key: the server accepted (durably stored) a key message carrying it,
   * so the contact will get it. Until then every message to the contact is preceded by
   * the key message again. Incoming keys are always confirmed.
   */
  confirmed: boolean;
  /**
   * Never sent with again (it still decrypts what was sent under it): set when either
   * side's keys changed, so the next message starts a conversation under the new keys.
   */
  retired?: boolean;
}

/**
 * v2 (issue 16): the account's X25519 identity key, signed by its Ed25519 signing key.
 * Where the store's `requiresExtractable` is false (the browser's IndexedDB) the private
 * key may be a non-extractable `CryptoKey` (X25519 `deriveBits` is all it is used for).
 */
export interface V2IdentityKey {
  /** The X25519 identity key pair (`CryptoKey`s). */
  keyPair: CryptoKeyPair;
  /** base64 Ed25519 signature of it as published (`signPrekey`, kind `identity`, id 0). */
  signature: string;
  /** When it was made, ms since the epoch (local clock). */
  createdAt: number;
}

/**
 * v2: a signed X25519 prekey the account published (the current one, or a rotated one
 * kept a short while so initial messages still in flight decrypt). Its private key is
 * EXTRACTABLE in every store: accepting a session makes the signed prekey the responder's
 * first ratchet key, whose private bytes the crypto package puts into the ratchet state.
 */
export interface StoredSignedPrekey {
  /** Its id, 0 < id < 2^31 (`isPrekeyId`). */
  id: number;
  keyPair: CryptoKeyPair;
  /** base64 Ed25519 signature as published (`signPrekey`, kind `signed`). */
  signature: string;
  /** When it was made, ms since the epoch (local clock): rotation and expiry go by this. */
  createdAt: number;
}

/**
 * v2: a one-time X25519 prekey the account published. Deleted once a session was accepted
 * with it (see `KeyStore.putSession`). The private key may be non-extractable where
 * `requiresExtractable` is false.
 */
export interface StoredOneTimePrekey {
  /** Its id, 0 < id < 2^31, unique among this account's one-time prekeys. */
  id: number;
  keyPair: CryptoKeyPair;
  createdAt: number;
}

/**
 * v2: a Double Ratchet session with one device of a peer. Everything here is plain data
 * (strings and numbers, no `CryptoKey`): the ratchet keeps its keys as raw bytes in the
 * serialized state, which is secret (it holds the chain and ratchet private keys).
 */
export interface StoredSession {
  peer: string;
  /** The peer's device (`'main'` until several devices per account exist). */
  device: string;
  /** `serializeRatchetState` text (packages/crypto v2); read back with `parseRatchetState`. */
  state: string;
  /**
   * The session this one replaced (same serialization), kept to read what the peer still
   * sends under it: both sides may start a session at once, or a late first message of an
   * older session may still arrive. Absent: none.
   */
  previous?: string;
  /**
   * The peer's pinned Ed25519 signing key (base64 SPKI) the session was set up with: when
   * the pin changes, the session is dropped and a new one set up.
   */
  peerSigningKey: string;
  /**
   * Ids of the messages this session decrypted lately, oldest first (the SDK bounds it):
   * a redelivery of one of them (not acked before a crash) is a duplicate, not an error.
   */
  received: string[];
  /**
   * Keys of messages this session decrypted that the application has not handled yet
   * (oldest first; the SDK bounds their count and age and deletes each once its message was
   * handled): a redelivery after a crash opens again with it. Secret. Absent: none.
   */
  unacked?: UnackedKey[];
  /** When this session was last stepped, ms since the epoch (local clock). */
  updatedAt: number;
}

/** v2: the kept message key of a decrypted message not handled (acked) yet. */
export interface UnackedKey {
  /** The message id. */
  id: string;
  /** Its message key (base64, 32 bytes; `Decrypted.messageKey` of packages/crypto): secret. */
  mk: string;
  /** When it was decrypted, ms since the epoch (local clock), for the maximum age. */
  at: number;
}

/** Storage of one local account's keys. */
export interface KeyStore {
  /** Whether keys given to this store must be extractable (it serialises them). */
  readonly requiresExtractable: boolean;

  getIdentity(): Promise<IdentityKeys | undefined>;
  putIdentity(keys: IdentityKeys): Promise<void>;
  deleteIdentity(): Promise<void>;

  getPinned(username: string): Promise<PinnedContact | undefined>;
  putPinned(contact: PinnedContact): Promise<void>;
  deletePinned(username: string): Promise<void>;
  listPinned(): Promise<PinnedContact[]>;

  /** The conversation key with this id shared with `peer`, if known. */
  getConversationKey(peer: string, kid: string): Promise<StoredConversationKey | undefined>;
  /**
   * Stores a conversation key. A key id already stored for `peer` is never replaced, so a
   * replayed or conflicting envelope cannot swap a key out from under old messages.
   * Returns whether it was stored.
   */
  putConversationKey(entry: StoredConversationKey): Promise<boolean>;
  /** Marks an outgoing key as confirmed (its key message was `accepted`). */
  confirmConversationKey(peer: string, kid: string): Promise<void>;
  /** The newest conversation key with `peer` (by `createdAt`) not retired, used for sending. */
  currentConversationKey(peer: string): Promise<StoredConversationKey | undefined>;
  /** Marks every conversation key with `peer` retired (kept for reading only). */
  retireConversationKeys(peer: string): Promise<void>;
  deleteConversationKeys(peer: string): Promise<void>;

  // v2 (issue 16). Every put below is all-or-nothing: after a crash the store holds the
  // old value or the new one, never a mix, and a put that resolved is durable.

  /** The account's X25519 identity key, once made. */
  getV2Identity(): Promise<V2IdentityKey | undefined>;
  /** Stores (replaces) the X25519 identity key. */
  putV2Identity(key: V2IdentityKey): Promise<void>;

  /** Every signed prekey kept (current and rotated), newest `createdAt` first. */
  listSignedPrekeys(): Promise<StoredSignedPrekey[]>;
  /** Stores a signed prekey (replaces one with the same id). */
  putSignedPrekey(prekey: StoredSignedPrekey): Promise<void>;
  /** Forgets a signed prekey (an expired rotated one). Absent: nothing happens. */
  deleteSignedPrekey(id: number): Promise<void>;

  /** The one-time prekey with this id, if still unused. */
  getOneTimePrekey(id: number): Promise<StoredOneTimePrekey | undefined>;
  /** Ids of every unused one-time prekey kept. */
  listOneTimePrekeyIds(): Promise<number[]>;
  /** Stores a batch of new one-time prekeys in one step (ids already kept are replaced). */
  putOneTimePrekeys(prekeys: StoredOneTimePrekey[]): Promise<void>;
  /** Forgets a one-time prekey. Absent: nothing happens. */
  deleteOneTimePrekey(id: number): Promise<void>;

  /** The session with (peer, device), if any. */
  getSession(peer: string, device: string): Promise<StoredSession | undefined>;
  /**
   * Stores (replaces) the session of (`session.peer`, `session.device`) in one step. With
   * `consumedOneTimePrekey`, that one-time prekey is deleted in the same step (a session
   * accepted with it), so a crash never keeps one without the other.
   */
  putSession(session: StoredSession, consumedOneTimePrekey?: number): Promise<void>;
  /** Every session kept (any peer, any device). */
  listSessions(): Promise<StoredSession[]>;
  /** Forgets every session with `peer` (its keys changed, or the contact was removed). */
  deleteSessions(peer: string): Promise<void>;

  /**
   * Optional. Runs `step` while no other user of the same storage (another process on the
   * same key folder, another browser tab on the same IndexedDB) runs one: the SDK reads a
   * ratchet state, steps it and stores it inside one step, so two processes sharing a store
   * never encrypt with the same message key nor lose each other's steps. Steps do not nest.
   * Absent: the SDK assumes this object is the store's only user.
   */
  exclusive?<T>(step: () => Promise<T>): Promise<T>;
}

/** Picks the newest key not retired; ties broken by id so every store agrees. */
export function newestKey(
  entries: Iterable<StoredConversationKey>,
): StoredConversationKey | undefined {
  let best: StoredConversationKey | undefined;
  for (const e of entries) {
    if (e.retired) continue;
    if (
      !best ||
      e.createdAt > best.createdAt ||
      (e.createdAt === best.createdAt && e.key.id > best.key.id)
    ) {
      best = e;
    }
  }
  return best;
}

/** A copy of a session its holder can change without changing the store's. */
function copySession(s: StoredSession): StoredSession {
  return {
    ...s,
    received: [...s.received],
    ...(s.unacked ? { unacked: s.unacked.map((k) => ({ ...k })) } : {}),
  };
}

/** Keys in memory only: for tests, and for browser sessions that must not persist. */
export class MemoryKeyStore implements KeyStore {
  readonly requiresExtractable: boolean;
  private identity: IdentityKeys | undefined;
  private readonly pinned = new Map<string, PinnedContact>();
  private readonly conversations = new Map<string, Map<string, StoredConversationKey>>();
  private v2Identity: V2IdentityKey | undefined;
  private readonly signedPrekeys = new Map<number, StoredSignedPrekey>();
  private readonly oneTimePrekeys = new Map<number, StoredOneTimePrekey>();
  /** Sessions by `JSON.stringify([peer, device])`. */
  private readonly sessions = new Map<string, StoredSession>();

  /** @param opts.extractable make keys given to it exportable (default false: they can't leak). */
  constructor(opts: { extractable?: boolean } = {}) {
    this.requiresExtractable = opts.extractable ?? false;
  }

  async getIdentity(): Promise<IdentityKeys | undefined> {
    return this.identity;
  }
  async putIdentity(keys: IdentityKeys): Promise<void> {
    this.identity = keys;
  }
  async deleteIdentity(): Promise<void> {
    this.identity = undefined;
  }

  async getPinned(username: string): Promise<PinnedContact | undefined> {
    const p = this.pinned.get(username);
    return p && { ...p };
  }
  async putPinned(contact: PinnedContact): Promise<void> {
    this.pinned.set(contact.username, { ...contact });
  }
  async deletePinned(username: string): Promise<void> {
    this.pinned.delete(username);
  }
  async listPinned(): Promise<PinnedContact[]> {
    return [...this.pinned.values()].map((p) => ({ ...p }));
  }

  async getConversationKey(peer: string, kid: string): Promise<StoredConversationKey | undefined> {
    const e = this.conversations.get(peer)?.get(kid);
    return e && { ...e };
  }
  async putConversationKey(entry: StoredConversationKey): Promise<boolean> {
    let byId = this.conversations.get(entry.peer);
    if (!byId) this.conversations.set(entry.peer, (byId = new Map()));
    if (byId.has(entry.key.id)) return false;
    byId.set(entry.key.id, { ...entry });
    return true;
  }
  async confirmConversationKey(peer: string, kid: string): Promise<void> {
    const e = this.conversations.get(peer)?.get(kid);
    if (e) e.confirmed = true;
  }
  async currentConversationKey(peer: string): Promise<StoredConversationKey | undefined> {
    const e = newestKey(this.conversations.get(peer)?.values() ?? []);
    return e && { ...e };
  }
  async retireConversationKeys(peer: string): Promise<void> {
    for (const e of this.conversations.get(peer)?.values() ?? []) e.retired = true;
  }
  async deleteConversationKeys(peer: string): Promise<void> {
    this.conversations.delete(peer);
  }

  async getV2Identity(): Promise<V2IdentityKey | undefined> {
    return this.v2Identity && { ...this.v2Identity };
  }
  async putV2Identity(key: V2IdentityKey): Promise<void> {
    this.v2Identity = { ...key };
  }

  async listSignedPrekeys(): Promise<StoredSignedPrekey[]> {
    return [...this.signedPrekeys.values()]
      .sort((x, y) => y.createdAt - x.createdAt || y.id - x.id)
      .map((p) => ({ ...p }));
  }
  async putSignedPrekey(prekey: StoredSignedPrekey): Promise<void> {
    this.signedPrekeys.set(prekey.id, { ...prekey });
  }
  async deleteSignedPrekey(id: number): Promise<void> {
    this.signedPrekeys.delete(id);
  }

  async getOneTimePrekey(id: number): Promise<StoredOneTimePrekey | undefined> {
    const p = this.oneTimePrekeys.get(id);
    return p && { ...p };
  }
  async listOneTimePrekeyIds(): Promise<number[]> {
    return [...this.oneTimePrekeys.keys()];
  }
  async putOneTimePrekeys(prekeys: StoredOneTimePrekey[]): Promise<void> {
    for (const p of prekeys) this.oneTimePrekeys.set(p.id, { ...p });
  }
  async deleteOneTimePrekey(id: number): Promise<void> {
    this.oneTimePrekeys.delete(id);
  }

  async getSession(peer: string, device: string): Promise<StoredSession | undefined> {
    const s = this.sessions.get(JSON.stringify([peer, device]));
    return s && copySession(s);
  }
  async putSession(session: StoredSession, consumedOneTimePrekey?: number): Promise<void> {
    this.sessions.set(JSON.stringify([session.peer, session.device]), copySession(session));
    if (consumedOneTimePrekey !== undefined) this.oneTimePrekeys.delete(consumedOneTimePrekey);
  }
  async listSessions(): Promise<StoredSession[]> {
    return [...this.sessions.values()].map(copySession);
  }
  async deleteSessions(peer: string): Promise<void> {
    for (const [k, s] of this.sessions) if (s.peer === peer) this.sessions.delete(k);
  }
}
