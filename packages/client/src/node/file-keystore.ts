/**
 * A `KeyStore` in a folder of JSON files, for Node (the CLI, bots, tests). Files are
 * mode 0600 in a 0700 folder and replaced atomically:
 *
 * - `identity.json`: the user's key pairs as JWK (private keys included).
 * - `contacts.json`: pinned contact keys (public).
 * - `conversations.json`: conversation keys (raw AES keys, base64).
 * - `v2.json` (issue 16): the X25519 identity key, signed and one-time prekeys (private
 *   keys as base64 of their raw 32 bytes) and the ratchet sessions (serialized state). One
 *   file, so accepting a session and deleting its one-time prekey is one atomic write.
 *
 * Private keys are protected by file permissions only, like an unencrypted SSH key.
 * Writes within one process are serialised; two processes writing the same folder at
 * once can lose an update (last rename wins), except v2 steps: `exclusive` takes the lock
 * file `v2.lock` in the folder, so the CLI's `listen` and `send` can share it.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  exportConversationKey,
  exportIdentityKeysJwk,
  exportX25519PrivateRaw,
  fromBase64,
  importConversationKey,
  importIdentityKeysJwk,
  importX25519PrivateRaw,
  toBase64,
  type IdentityKeys,
  type IdentityKeysJwk,
} from '@gossip/crypto';
import {
  type KeyStore,
  type PinnedContact,
  type StoredConversationKey,
  type StoredOneTimePrekey,
  type StoredSession,
  type StoredSignedPrekey,
  type V2IdentityKey,
} from '../keystore.js';
import { readJson, withLockFile, writePrivateJson } from './files.js';

const FORMAT = 1;

interface IdentityFile {
  format: number;
  keys: IdentityKeysJwk;
}
interface ContactsFile {
  format: number;
  contacts: Record<string, PinnedContact>;
}

/**
 * The pins as a Map: a username such as `__proto__` or `constructor` is a valid account
 * name, and as a key of a plain object it would set the prototype (the pin silently lost,
 * so the contact would be trusted on first use again) or read an inherited member.
 */
type Pins = Map<string, PinnedContact>;
interface ConversationRecord {
  peer: string;
  kid: string;
  /** base64 of the raw 32-byte AES key. */
  key: string;
  origin: 'outgoing' | 'incoming';
  createdAt: number;
  confirmed: boolean;
  retired?: boolean;
}
interface ConversationsFile {
  format: number;
  keys: ConversationRecord[];
}

/** An X25519 private key as base64 of its raw 32 bytes (the public key is derived). */
type PrivateRaw = string;
interface V2File {
  format: number;
  identity?: { priv: PrivateRaw; signature: string; createdAt: number };
  signedPrekeys: { id: number; priv: PrivateRaw; signature: string; createdAt: number }[];
  oneTimePrekeys: { id: number; priv: PrivateRaw; createdAt: number }[];
  sessions: StoredSession[];
}

const exportPair = async (pair: CryptoKeyPair): Promise<PrivateRaw> =>
  toBase64(await exportX25519PrivateRaw(pair.privateKey));
const importPair = (priv: PrivateRaw): Promise<CryptoKeyPair> =>
  importX25519PrivateRaw(fromBase64(priv));

/** Keys in `dir` (for the CLI: `~/.gossip/<server-host>/<user>/`). */
export class FileKeyStore implements KeyStore {
  readonly requiresExtractable = true;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(readonly dir: string) {}

  private get identityFile(): string {
    return join(this.dir, 'identity.json');
  }
  private get contactsFile(): string {
    return join(this.dir, 'contacts.json');
  }
  private get conversationsFile(): string {
    return join(this.dir, 'conversations.json');
  }
  private get v2File(): string {
    return join(this.dir, 'v2.json');
  }

  private exclusiveChain: Promise<unknown> = Promise.resolve();

  /** One v2 step at a time in this process (a queue), and across processes (`v2.lock`). */
  exclusive<T>(step: () => Promise<T>): Promise<T> {
    const run = (): Promise<T> => withLockFile(join(this.dir, 'v2.lock'), step);
    const next = this.exclusiveChain.then(run, run);
    this.exclusiveChain = next.catch(() => undefined);
    return next;
  }

  /** Runs read-modify-write steps one at a time. */
  private serial<T>(step: () => Promise<T>): Promise<T> {
    const next = this.chain.then(step, step);
    this.chain = next.catch(() => undefined);
    return next;
  }

  async getIdentity(): Promise<IdentityKeys | undefined> {
    const file = await readJson<IdentityFile>(this.identityFile);
    return file ? importIdentityKeysJwk(file.keys) : undefined;
  }

  async putIdentity(keys: IdentityKeys): Promise<void> {
    const jwk = await exportIdentityKeysJwk(keys);
    await this.serial(() => writePrivateJson(this.identityFile, { format: FORMAT, keys: jwk }));
  }

  async deleteIdentity(): Promise<void> {
    await this.serial(() => rm(this.identityFile, { force: true }));
  }

  private async contacts(): Promise<Pins> {
    // JSON.parse makes "__proto__" an own property, so Object.entries sees every pin.
    const file = await readJson<ContactsFile>(this.contactsFile);
    return new Map(Object.entries(file?.contacts ?? {}));
  }

  private async writeContacts(all: Pins): Promise<void> {
    // Object.fromEntries defines own properties (no prototype setter), so "__proto__" is kept.
    const contacts = Object.fromEntries(all) as Record<string, PinnedContact>;
    await writePrivateJson(this.contactsFile, { format: FORMAT, contacts });
  }

  async getPinned(username: string): Promise<PinnedContact | undefined> {
    return (await this.contacts()).get(username);
  }

  async putPinned(contact: PinnedContact): Promise<void> {
    await this.serial(async () => {
      const all = await this.contacts();
      all.set(contact.username, contact);
      await this.writeContacts(all);
    });
  }

  async deletePinned(username: string): Promise<void> {
    await this.serial(async () => {
      const all = await this.contacts();
      all.delete(username);
      await this.writeContacts(all);
    });
  }

  async listPinned(): Promise<PinnedContact[]> {
    return [...(await this.contacts()).values()];
  }

  private async records(): Promise<ConversationRecord[]> {
    return (await readJson<ConversationsFile>(this.conversationsFile))?.keys ?? [];
  }

  private async toStored(r: ConversationRecord): Promise<StoredConversationKey> {
    return {
      peer: r.peer,
      key: await importConversationKey(r.kid, fromBase64(r.key)),
      origin: r.origin,
      createdAt: r.createdAt,
      confirmed: r.confirmed,
      ...(r.retired ? { retired: true } : {}),
    };
  }

  async getConversationKey(peer: string, kid: string): Promise<StoredConversationKey | undefined> {
    const r = (await this.records()).find((x) => x.peer === peer && x.kid === kid);
    return r && this.toStored(r);
  }

  async putConversationKey(entry: StoredConversationKey): Promise<boolean> {
    const raw = toBase64(await exportConversationKey(entry.key));
    return this.serial(async () => {
      const all = await this.records();
      if (all.some((x) => x.peer === entry.peer && x.kid === entry.key.id)) return false;
      all.push({
        peer: entry.peer,
        kid: entry.key.id,
        key: raw,
        origin: entry.origin,
        createdAt: entry.createdAt,
        confirmed: entry.confirmed,
      });
      await writePrivateJson(this.conversationsFile, { format: FORMAT, keys: all });
      return true;
    });
  }

  async confirmConversationKey(peer: string, kid: string): Promise<void> {
    await this.serial(async () => {
      const all = await this.records();
      const r = all.find((x) => x.peer === peer && x.kid === kid);
      if (!r || r.confirmed) return;
      r.confirmed = true;
      await writePrivateJson(this.conversationsFile, { format: FORMAT, keys: all });
    });
  }

  async currentConversationKey(peer: string): Promise<StoredConversationKey | undefined> {
    // Same order as newestKey(): newest createdAt, ties broken by the larger id.
    let best: ConversationRecord | undefined;
    for (const x of await this.records()) {
      if (x.peer !== peer || x.retired) continue;
      if (
        !best ||
        x.createdAt > best.createdAt ||
        (x.createdAt === best.createdAt && x.kid > best.kid)
      ) {
        best = x;
      }
    }
    return best && this.toStored(best);
  }

  async retireConversationKeys(peer: string): Promise<void> {
    await this.serial(async () => {
      const all = await this.records();
      for (const r of all) if (r.peer === peer) r.retired = true;
      await writePrivateJson(this.conversationsFile, { format: FORMAT, keys: all });
    });
  }

  async deleteConversationKeys(peer: string): Promise<void> {
    await this.serial(async () => {
      const all = (await this.records()).filter((x) => x.peer !== peer);
      await writePrivateJson(this.conversationsFile, { format: FORMAT, keys: all });
    });
  }

  private async v2(): Promise<V2File> {
    const file = await readJson<V2File>(this.v2File);
    return {
      format: FORMAT,
      ...(file?.identity ? { identity: file.identity } : {}),
      signedPrekeys: file?.signedPrekeys ?? [],
      oneTimePrekeys: file?.oneTimePrekeys ?? [],
      sessions: file?.sessions ?? [],
    };
  }

  /** One read-modify-write of `v2.json` (serialised; the write is atomic). */
  private updateV2(change: (file: V2File) => void): Promise<void> {
    return this.serial(async () => {
      const file = await this.v2();
      change(file);
      await writePrivateJson(this.v2File, file);
    });
  }

  async getV2Identity(): Promise<V2IdentityKey | undefined> {
    const id = (await this.v2()).identity;
    if (!id) return undefined;
    return { keyPair: await importPair(id.priv), signature: id.signature, createdAt: id.createdAt };
  }

  async putV2Identity(key: V2IdentityKey): Promise<void> {
    const priv = await exportPair(key.keyPair);
    await this.updateV2((f) => {
      f.identity = { priv, signature: key.signature, createdAt: key.createdAt };
    });
  }

  async listSignedPrekeys(): Promise<StoredSignedPrekey[]> {
    const all = (await this.v2()).signedPrekeys;
    const out = await Promise.all(
      all.map(async (p) => ({
        id: p.id,
        keyPair: await importPair(p.priv),
        signature: p.signature,
        createdAt: p.createdAt,
      })),
    );
    return out.sort((x, y) => y.createdAt - x.createdAt || y.id - x.id);
  }

  async putSignedPrekey(prekey: StoredSignedPrekey): Promise<void> {
    const priv = await exportPair(prekey.keyPair);
    await this.updateV2((f) => {
      f.signedPrekeys = f.signedPrekeys.filter((p) => p.id !== prekey.id);
      f.signedPrekeys.push({
        id: prekey.id,
        priv,
        signature: prekey.signature,
        createdAt: prekey.createdAt,
      });
    });
  }

  async deleteSignedPrekey(id: number): Promise<void> {
    await this.updateV2((f) => {
      f.signedPrekeys = f.signedPrekeys.filter((p) => p.id !== id);
    });
  }

  async getOneTimePrekey(id: number): Promise<StoredOneTimePrekey | undefined> {
    const p = (await this.v2()).oneTimePrekeys.find((x) => x.id === id);
    return p && { id: p.id, keyPair: await importPair(p.priv), createdAt: p.createdAt };
  }

  async listOneTimePrekeyIds(): Promise<number[]> {
    return (await this.v2()).oneTimePrekeys.map((p) => p.id);
  }

  async putOneTimePrekeys(prekeys: StoredOneTimePrekey[]): Promise<void> {
    const rows = await Promise.all(
      prekeys.map(async (p) => ({
        id: p.id,
        priv: await exportPair(p.keyPair),
        createdAt: p.createdAt,
      })),
    );
    const ids = new Set(rows.map((r) => r.id));
    await this.updateV2((f) => {
      f.oneTimePrekeys = [...f.oneTimePrekeys.filter((p) => !ids.has(p.id)), ...rows];
    });
  }

  async deleteOneTimePrekey(id: number): Promise<void> {
    await this.updateV2((f) => {
      f.oneTimePrekeys = f.oneTimePrekeys.filter((p) => p.id !== id);
    });
  }

  async getSession(peer: string, device: string): Promise<StoredSession | undefined> {
    return (await this.v2()).sessions.find((x) => x.peer === peer && x.device === device);
  }

  async putSession(session: StoredSession, consumedOneTimePrekey?: number): Promise<void> {
    const copy = { ...session, received: [...session.received] };
    await this.updateV2((f) => {
      f.sessions = f.sessions.filter((x) => !(x.peer === copy.peer && x.device === copy.device));
      f.sessions.push(copy);
      if (consumedOneTimePrekey !== undefined) {
        f.oneTimePrekeys = f.oneTimePrekeys.filter((p) => p.id !== consumedOneTimePrekey);
      }
    });
  }

  async listSessions(): Promise<StoredSession[]> {
    return (await this.v2()).sessions;
  }

  async deleteSessions(peer: string): Promise<void> {
    await this.updateV2((f) => {
      f.sessions = f.sessions.filter((x) => x.peer !== peer);
    });
  }
}
