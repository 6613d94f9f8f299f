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

/** Keys in memory only: for tests, and for browser sessions that must not persist. */
export class MemoryKeyStore implements KeyStore {
  readonly requiresExtractable: boolean;
  private identity: IdentityKeys | undefined;
  private readonly pinned = new Map<string, PinnedContact>();
  private readonly conversations = new Map<string, Map<string, StoredConversationKey>>();

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
}
