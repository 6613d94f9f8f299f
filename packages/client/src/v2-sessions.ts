/**
 * End-to-end encryption v2 in the SDK (issue 16): the account's X25519 keys in the prekey
 * directory (published, topped up, rotated) and one Double Ratchet session per (peer,
 * device), stored through the `KeyStore` at every step.
 *
 * Ordering rules (crash safety):
 * - Sending: the state after `encryptV2` is stored before the body is handed out to be
 *   sent, so a message key is never used twice, whatever crashes when.
 * - Receiving: the state after a decryption is stored, together with the message id in
 *   the session's `received` list and the message's key in its `unacked` list, before the
 *   plaintext is handed to the application (and so before the ack). If the process dies
 *   before the application's handler finished, the redelivery of that id opens again with
 *   the kept key and is handed to the application again (at-least-once, as v1). Once the
 *   handler finished (`handled`, which the `Messenger` calls before it acks) the key is
 *   deleted; a redelivery after that is a `DuplicateMessageError` (ack it, do not show it
 *   again), not a decryption error.
 * - Forward secrecy: the only message keys kept besides the ratchet's skipped keys are
 *   those of messages decrypted but not handled yet, at most `unackedKeysKept` per session
 *   and for at most `unackedKeyMaxAgeMs`; whoever takes the stored state can read those
 *   messages (they are still on the server, unacked), never ones handled before.
 * - Accepting a session stores it and deletes the one-time prekey it used in one put.
 * - Prekeys are stored locally before they are uploaded, so nobody can fetch a prekey
 *   whose private half this store does not hold.
 */
import {
  acceptV2,
  CryptoError,
  decryptV2,
  encryptV2,
  exportX25519PublicKey,
  fromBase64,
  generateX25519KeyPair,
  importSigningPublicKey,
  importWrappingPublicKey,
  isPrekeyId,
  parseMessageBodyV2,
  parseRatchetState,
  PREKEY_ID_LIMIT,
  ratchetOpen,
  serializeRatchetState,
  signPrekey,
  startSession,
  toBase64,
  type MessageBodyV2,
  type RatchetState,
  type ResponderKeys,
} from '@gossip/crypto';
import {
  MAX_BODY_CHARS,
  MAX_ONE_TIME_PREKEYS_PER_UPLOAD,
  PREKEY_DEVICE_ID,
  type PrekeyBundle,
  type PrekeyStatus,
} from '@gossip/protocol';
import type { ApiClient } from './api.js';
import type { ContactKeys } from './contact-keys.js';
import { ApiError, DuplicateMessageError } from './errors.js';
import type { LocalIdentity } from './identity.js';
import type {
  KeyStore,
  PinnedContact,
  StoredSession,
  StoredSignedPrekey,
  UnackedKey,
  V2IdentityKey,
} from './keystore.js';

/** How the SDK looks after its v2 keys. Every field has a default. */
export interface V2Options {
  /** Send v2 to contacts that publish v2 keys, and publish ours. false: v1 only. @default true */
  enabled?: boolean;
  /** One-time prekeys uploaded per top-up. @default 50 */
  oneTimePrekeyBatch?: number;
  /** Top up when the directory holds fewer one-time prekeys than this. @default 20 */
  oneTimePrekeyLowWater?: number;
  /** Check the count again after this many sessions were accepted. @default 10 */
  topUpEverySessions?: number;
  /** Rotate the signed prekey when it is older than this (ms). @default 7 days */
  signedPrekeyMaxAgeMs?: number;
  /**
   * Keep a rotated signed prekey's private half this long (ms), so initial messages sent
   * against it before the rotation still decrypt. @default 30 days (as the server keeps
   * undelivered messages and the ratchet keeps skipped keys)
   */
  signedPrekeyKeepMs?: number;
  /** Message ids remembered per session to tell a redelivery from a replay. @default 512 */
  receivedIdsKept?: number;
  /**
   * Message keys of decrypted messages the application has not handled yet, kept per
   * session so a redelivery after a crash opens again; the oldest go first. @default 100
   */
  unackedKeysKept?: number;
  /** Such a kept key is deleted after this long (ms), handled or not. @default 30 days */
  unackedKeyMaxAgeMs?: number;
  /**
   * A peer without a prekey bundle (v1 only) is asked again after this long (ms); until
   * then messages to them go out as v1 without asking. @default 10 minutes
   */
  noBundleRetryMs?: number;
  /**
   * The `Messenger` checks the prekeys (count, rotation) when it connects if the last check
   * is older than this (ms). @default 1 hour
   */
  checkEveryMs?: number;
}

const DAY = 24 * 60 * 60 * 1000;
export const V2_DEFAULTS: Required<V2Options> = {
  enabled: true,
  oneTimePrekeyBatch: 50,
  oneTimePrekeyLowWater: 20,
  topUpEverySessions: 10,
  signedPrekeyMaxAgeMs: 7 * DAY,
  signedPrekeyKeepMs: 30 * DAY,
  receivedIdsKept: 512,
  unackedKeysKept: 100,
  unackedKeyMaxAgeMs: 30 * DAY,
  noBundleRetryMs: 10 * 60 * 1000,
  checkEveryMs: 60 * 60 * 1000,
};

/** The v2 state of the conversation with one peer, for status lines. */
export interface V2ConversationStatus {
  /** There is a v2 session with the peer: messages to them go out as `v: 2`. */
  session: boolean;
  /** The session is still waiting for the peer's first reply (it carries the X3DH init). */
  pending: boolean;
}

/** A decrypted v2 message. */
export interface V2Opened {
  data: Uint8Array;
  /** The sender's device. */
  device: string;
  /** Messages of the session that have not arrived (yet): a gap the app can show. */
  skipped: number;
}

/** Runs steps for one key at a time (per peer: a ratchet state is read, stepped, stored). */
class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();
  run<T>(key: string, step: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(step, step);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}

/** The account's v2 keys and sessions. */
export class V2Sessions {
  readonly options: Required<V2Options>;
  /** The last error of a background prekey upload, if the last attempt failed. */
  lastError: Error | undefined;
  private readonly lock = new KeyedLock();
  /** Peers without a prekey bundle, and until when they are not asked again. */
  private readonly noBundleUntil = new Map<string, number>();
  private acceptedSinceCheck = 0;
  /** When `maintain()` last started (ms since the epoch), for `maintainIfDue`. */
  private lastCheck = -Infinity;
  private maintaining: Promise<void> | undefined;

  constructor(
    private readonly api: ApiClient,
    private readonly keyStore: KeyStore,
    private readonly me: LocalIdentity,
    private readonly pins: ContactKeys,
    private readonly now: () => number,
    opts: V2Options = {},
  ) {
    this.options = { ...V2_DEFAULTS, ...opts };
  }

  /** A step on `key`'s state: one at a time per key here, and store-wide if the store can. */
  private run<T>(key: string, step: () => Promise<T>): Promise<T> {
    const store = this.keyStore;
    return this.lock.run(key, () => (store.exclusive ? store.exclusive(step) : step()));
  }

  get enabled(): boolean {
    return this.options.enabled;
  }

  // ---------------------------------------------------------------- own keys

  /**
   * Publishes this account's v2 keys if the directory lacks them (or has others, after a
   * key change), rotates the signed prekey when it is due, forgets rotated ones past
   * `signedPrekeyKeepMs`, and tops up one-time prekeys below `oneTimePrekeyLowWater`.
   * Concurrent calls share one run. Resolves with the directory's status.
   */
  maintain(): Promise<PrekeyStatus | undefined> {
    if (!this.enabled) return Promise.resolve(undefined);
    this.lastCheck = this.now();
    const run = this.run('\u0000own', () => this.maintainNow());
    this.maintaining = run.then(
      () => {
        this.lastError = undefined;
      },
      (err: unknown) => {
        this.lastError = err instanceof Error ? err : new Error(String(err));
      },
    );
    return run;
  }

  /** `maintain()` in the background: a failure is kept in `lastError`, never thrown. */
  maintainInBackground(): void {
    this.lastCheck = this.now();
    void this.maintain().catch(() => undefined);
  }

  /**
   * `maintainInBackground()` unless a check ran within `checkEveryMs` (the `Messenger`
   * calls this on each connection, so a client that runs for weeks still rotates).
   */
  maintainIfDue(): void {
    if (!this.enabled || this.now() - this.lastCheck < this.options.checkEveryMs) return;
    this.maintainInBackground();
  }

  /** Waits for a background `maintain()` to finish (tests, shutdown). */
  async settled(): Promise<void> {
    await this.maintaining;
  }

  private async maintainNow(): Promise<PrekeyStatus> {
    const identity = await this.ensureIdentity();
    const now = this.now();
    let signed = (await this.keyStore.listSignedPrekeys())[0];
    let rotate = !signed || now - signed.createdAt >= this.options.signedPrekeyMaxAgeMs;
    const status = await this.api.getPrekeyStatus();
    const theirs = !status.published || status.identityKey !== identity.publicKey;
    if (!rotate && signed && status.published && status.signedPrekeyId !== signed.id) {
      rotate = true; // the directory serves another signed prekey than ours
    }
    if (theirs && signed && !rotate) {
      // After a key change the old signatures no longer verify: sign again.
      rotate = true;
    }
    const low = !status.published || status.oneTimePrekeys < this.options.oneTimePrekeyLowWater;
    if (!theirs && !rotate && !low) {
      await this.forgetOldSignedPrekeys(signed?.id);
      return status;
    }
    const signing = (await this.me.identity()).signing.privateKey;
    const idSignature = await signPrekey(signing, {
      kind: 'identity',
      id: 0,
      publicKey: identity.publicKey,
    });
    if (idSignature !== identity.key.signature) {
      await this.keyStore.putV2Identity({ ...identity.key, signature: idSignature });
    }
    if (rotate || !signed) signed = await this.newSignedPrekey(signing);
    const room = Math.max(0, status.maxOneTimePrekeys - (theirs ? 0 : status.oneTimePrekeys));
    const count = low
      ? Math.min(this.options.oneTimePrekeyBatch, MAX_ONE_TIME_PREKEYS_PER_UPLOAD, room)
      : 0;
    const oneTime = await this.newOneTimePrekeys(count);
    const spk = await exportX25519PublicKey(signed.keyPair.publicKey);
    const next = await this.api.uploadPrekeys({
      identityKey: { publicKey: identity.publicKey, signature: idSignature },
      signedPrekey: { id: signed.id, publicKey: spk, signature: signed.signature },
      ...(oneTime.length ? { oneTimePrekeys: oneTime } : {}),
    });
    await this.forgetOldSignedPrekeys(signed.id);
    return next;
  }

  /** The X25519 identity key, made (and stored) on first use. */
  private async ensureIdentity(): Promise<{ key: V2IdentityKey; publicKey: string }> {
    let key = await this.keyStore.getV2Identity();
    if (!key) {
      const keyPair = await this.generatePair();
      const signature = await signPrekey((await this.me.identity()).signing.privateKey, {
        kind: 'identity',
        id: 0,
        publicKey: await exportX25519PublicKey(keyPair.publicKey),
      });
      key = { keyPair, signature, createdAt: this.now() };
      await this.keyStore.putV2Identity(key);
    }
    return { key, publicKey: await exportX25519PublicKey(key.keyPair.publicKey) };
  }

  /**
   * An X25519 pair, non-extractable where the store allows it, except `extractable`: a
   * signed prekey is the responder's first ratchet key, whose private bytes go into the
   * (serialized) ratchet state.
   */
  private generatePair(extractable = false): Promise<CryptoKeyPair> {
    if (extractable || this.keyStore.requiresExtractable) return generateX25519KeyPair();
    return crypto.subtle.generateKey({ name: 'X25519' }, false, [
      'deriveBits',
    ]) as Promise<CryptoKeyPair>;
  }

  private async newSignedPrekey(signing: CryptoKey): Promise<StoredSignedPrekey> {
    const taken = new Set((await this.keyStore.listSignedPrekeys()).map((p) => p.id));
    const id = randomPrekeyId(taken);
    const keyPair = await this.generatePair(true);
    const signature = await signPrekey(signing, {
      kind: 'signed',
      id,
      publicKey: await exportX25519PublicKey(keyPair.publicKey),
    });
    const prekey = { id, keyPair, signature, createdAt: this.now() };
    await this.keyStore.putSignedPrekey(prekey);
    return prekey;
  }

  private async newOneTimePrekeys(count: number): Promise<{ id: number; publicKey: string }[]> {
    if (count <= 0) return [];
    const taken = new Set(await this.keyStore.listOneTimePrekeyIds());
    const createdAt = this.now();
    const made = [];
    for (let i = 0; i < count; i++) {
      const id = randomPrekeyId(taken);
      taken.add(id);
      made.push({ id, keyPair: await this.generatePair(), createdAt });
    }
    await this.keyStore.putOneTimePrekeys(made);
    return Promise.all(
      made.map(async (p) => ({
        id: p.id,
        publicKey: await exportX25519PublicKey(p.keyPair.publicKey),
      })),
    );
  }

  /** Deletes rotated signed prekeys older than `signedPrekeyKeepMs` (never the current one). */
  private async forgetOldSignedPrekeys(current: number | undefined): Promise<void> {
    const cutoff = this.now() - this.options.signedPrekeyKeepMs;
    for (const p of await this.keyStore.listSignedPrekeys()) {
      // Rotated at the creation of its successor, at the latest; its own createdAt is older.
      if (p.id !== current && p.createdAt + this.options.signedPrekeyMaxAgeMs < cutoff) {
        await this.keyStore.deleteSignedPrekey(p.id);
      }
    }
  }

  /**
   * After the account's keys changed: the X25519 identity key is signed again by the new
   * signing key and a new signed prekey and one-time prekeys are published. The sessions
   * are kept: contacts drop theirs when they follow the change and start new ones, and
   * what they sent under the old ones before that still decrypts here.
   */
  async afterKeyChange(): Promise<void> {
    // The directory withdrew the one-time prekeys with the key change: they are never used.
    for (const id of await this.keyStore.listOneTimePrekeyIds()) {
      await this.keyStore.deleteOneTimePrekey(id);
    }
    await this.maintain();
  }

  // ---------------------------------------------------------------- sessions

  /** Whether there is a v2 session with `peer`. */
  async status(peer: string): Promise<V2ConversationStatus> {
    const s = await this.keyStore.getSession(peer, PREKEY_DEVICE_ID);
    if (!s) return { session: false, pending: false };
    return { session: true, pending: parseRatchetState(s.state).init !== undefined };
  }

  /**
   * Encrypts a message to `to` as a v2 body, starting a session from the peer's prekey
   * bundle if there is none. Returns undefined when v2 cannot be used with them (v2 off,
   * this account's v2 keys not made yet, the peer publishes no bundle, or the bundle does
   * not verify under the pinned keys): the caller sends v1. The state is stored first.
   */
  async encrypt(
    contact: PinnedContact,
    plaintext: string | Uint8Array,
    id: string,
  ): Promise<string | undefined> {
    if (!this.enabled) return undefined;
    const to = contact.username;
    return this.run(to, async () => {
      let session = await this.currentSession(contact, PREKEY_DEVICE_ID);
      let state: RatchetState | undefined = session && parseRatchetState(session.state);
      if (!state) {
        state = await this.startWith(contact);
        if (!state) return undefined;
      }
      const ctx = this.context(this.me.username, PREKEY_DEVICE_ID, to, PREKEY_DEVICE_ID, id);
      const e = await encryptV2(state, plaintext, ctx);
      if (e.body.length > MAX_BODY_CHARS) {
        throw new RangeError(
          `message too large: its body would be ${e.body.length} characters, the limit is ${MAX_BODY_CHARS}`,
        );
      }
      session = {
        peer: to,
        device: PREKEY_DEVICE_ID,
        state: serializeRatchetState(e.state),
        peerSigningKey: contact.signingKey,
        ...(session?.previous !== undefined ? { previous: session.previous } : {}),
        received: session?.received ?? [],
        ...(session?.unacked?.length ? { unacked: session.unacked } : {}),
        updatedAt: this.now(),
      };
      await this.keyStore.putSession(session);
      return e.body;
    });
  }

  /** The stored session with (peer, device), dropped when the peer's pinned keys changed. */
  private async currentSession(
    contact: PinnedContact,
    device: string,
  ): Promise<StoredSession | undefined> {
    const s = await this.keyStore.getSession(contact.username, device);
    if (s && s.peerSigningKey !== contact.signingKey) {
      await this.keyStore.deleteSessions(contact.username);
      return undefined;
    }
    return s;
  }

  /** X3DH against the peer's bundle; undefined when they have none or it does not check out. */
  private async startWith(contact: PinnedContact): Promise<RatchetState | undefined> {
    const own = await this.keyStore.getV2Identity();
    if (!own) return undefined;
    const until = this.noBundleUntil.get(contact.username);
    if (until !== undefined && this.now() < until) return undefined;
    let bundle: PrekeyBundle;
    try {
      bundle = await this.api.getPrekeyBundle(contact.username);
    } catch (err) {
      // prekeys_not_found (a v1-only peer), or a server without the prekey directory.
      if (!(err instanceof ApiError && err.status === 404)) throw err;
      this.noBundleUntil.set(contact.username, this.now() + this.options.noBundleRetryMs);
      return undefined;
    }
    this.noBundleUntil.delete(contact.username);
    if (
      bundle.username !== contact.username ||
      bundle.signingKey !== contact.signingKey ||
      bundle.wrappingKey !== contact.wrappingKey
    ) {
      return undefined; // prekeys signed under other keys than the ones we trust
    }
    try {
      return await startSession({
        self: {
          username: this.me.username,
          deviceId: PREKEY_DEVICE_ID,
          identityKey: own.keyPair,
          identitySignature: own.signature,
        },
        bundle,
        peerSigningKey: await importSigningPublicKey(contact.signingKey),
        peerWrappingKey: await importWrappingPublicKey(contact.wrappingKey),
      });
    } catch (err) {
      if (err instanceof CryptoError) return undefined; // a signature does not verify
      throw err;
    }
  }

  /**
   * Decrypts a v2 body from `from` (as the server authenticated it) with message id `id`.
   * Starts the responder's session when the body carries an X3DH init. A redelivery of a
   * message decrypted before but not `handled` yet opens again with its kept key. Throws
   * `DuplicateMessageError` for a redelivery of a message handled before, and
   * `CryptoError` (`replayed`, `gap_too_large`, `decrypt_failed`, ...) otherwise.
   */
  async decrypt(from: string, id: string, body: string): Promise<V2Opened> {
    const b = parseMessageBodyV2(body);
    const device = b.sd;
    if (b.rd !== PREKEY_DEVICE_ID) {
      throw new CryptoError('context_mismatch', `v2 body is for device ${b.rd}, not this one`);
    }
    return this.run(from, async () => {
      let contact = await this.pins.pinnedKeys(from);
      const session = await this.currentSession(contact, device);
      const ctx = this.context(from, device, this.me.username, PREKEY_DEVICE_ID, id);
      const current = session && parseRatchetState(session.state);
      const previous =
        session?.previous !== undefined ? parseRatchetState(session.previous) : undefined;
      const unacked = this.liveUnacked(session);
      if (session?.received.includes(id)) {
        const kept = unacked.find((k) => k.id === id);
        if (!kept) throw new DuplicateMessageError(id, from);
        // Decrypted before a crash, never handled: open it again with its kept key.
        const data = await this.openKept(kept.mk, b, ctx, [current, previous]);
        return { data, device, skipped: 0 };
      }
      const ek = b.init?.ek;
      const fresh = ek !== undefined && current?.ek !== ek && previous?.ek !== ek;
      let next: { current: RatchetState; previous?: RatchetState | undefined };
      let plaintext: Uint8Array;
      let messageKey: Uint8Array;
      let skipped: number;
      let consumed: number | undefined;
      if (fresh) {
        let got;
        try {
          got = await this.accept(b, ctx, contact);
        } catch (err) {
          if (!(err instanceof CryptoError && err.code === 'bad_signature')) throw err;
          // Perhaps a signed rotation we have not followed yet (KeyChangedError on a reset).
          const followed = await this.pins.contactKeys(from);
          if (followed.signingKey === contact.signingKey) throw err;
          contact = followed;
          got = await this.accept(b, ctx, contact);
        }
        ({ plaintext, skipped, messageKey } = got);
        consumed = got.oneTimePrekeyId;
        // Both sides started a session at once: the one started by the smaller username
        // wins on both sides, the other is kept as `previous` to read what came under it.
        const keepOurs = current?.init !== undefined && this.me.username < from;
        next = keepOurs
          ? { current: current as RatchetState, previous: got.state }
          : { current: got.state, previous: current };
        this.sessionAccepted();
      } else if (current) {
        const usePrevious = ek !== undefined && previous?.ek === ek && current.ek !== ek;
        const first = usePrevious && previous ? previous : current;
        const second = usePrevious ? current : previous;
        let d;
        try {
          d = await decryptV2(first, b, ctx);
          next = usePrevious ? { current, previous: d.state } : { current: d.state, previous };
        } catch (err) {
          if (err instanceof CryptoError && err.code === 'gap_too_large') {
            // This session cannot follow the peer any more: the next send starts a new one.
            await this.keyStore.deleteSessions(from);
            throw err;
          }
          if (!second || !(err instanceof CryptoError)) throw err;
          try {
            d = await decryptV2(second, b, ctx);
          } catch {
            throw err;
          }
          next = usePrevious ? { current: d.state, previous } : { current, previous: d.state };
        }
        ({ plaintext, skipped, messageKey } = d);
      } else {
        throw new CryptoError(
          'bad_key',
          `no v2 session with ${from} for message ${id}, and it does not start one`,
        );
      }
      const received = [...(session?.received ?? []), id].slice(-this.options.receivedIdsKept);
      const keep = [...unacked, { id, mk: toBase64(messageKey), at: this.now() }].slice(
        -this.options.unackedKeysKept,
      );
      await this.keyStore.putSession(
        {
          peer: from,
          device,
          state: serializeRatchetState(next.current),
          ...(next.previous ? { previous: serializeRatchetState(next.previous) } : {}),
          peerSigningKey: contact.signingKey,
          received,
          unacked: keep,
          updatedAt: this.now(),
        },
        consumed,
      );
      return { data: plaintext, device, skipped };
    });
  }

  /**
   * The application handled message `id` from `from` (its handler finished; the ack goes
   * out next): its kept message key is deleted, so a redelivery is a duplicate from now on.
   * Nothing happens if no key is kept for it (a v1 message, or deleted by the bounds).
   * `device` (the sender's, `V2Opened.device`) names the one session that can hold the key;
   * without it every session with `from` is looked at.
   */
  async handled(from: string, id: string, device?: string): Promise<void> {
    await this.run(from, async () => {
      const sessions =
        device !== undefined
          ? [await this.keyStore.getSession(from, device)]
          : await this.keyStore.listSessions();
      for (const s of sessions) {
        if (!s || s.peer !== from || !s.unacked?.some((k) => k.id === id)) continue;
        const rest = this.liveUnacked(s).filter((k) => k.id !== id);
        const { unacked: _dropped, ...without } = s;
        await this.keyStore.putSession(rest.length ? { ...without, unacked: rest } : without);
      }
    });
  }

  /** A session's kept message keys not past `unackedKeyMaxAgeMs`. */
  private liveUnacked(session: StoredSession | undefined): UnackedKey[] {
    const cutoff = this.now() - this.options.unackedKeyMaxAgeMs;
    return (session?.unacked ?? []).filter((k) => k.at >= cutoff);
  }

  /** Opens a redelivered body with its kept message key, under whichever state made it. */
  private async openKept(
    mk: string,
    b: ReturnType<typeof parseMessageBodyV2>,
    ctx: ReturnType<V2Sessions['context']>,
    states: Array<RatchetState | undefined>,
  ): Promise<Uint8Array> {
    let last: unknown;
    for (const st of states) {
      if (!st) continue;
      try {
        return await ratchetOpen(fromBase64(mk), b.header, b.ciphertext, ctx, st.ad);
      } catch (err) {
        last = err;
      }
    }
    throw last ?? new CryptoError('bad_key', `no v2 session state to open message ${ctx.id}`);
  }

  private async accept(
    body: MessageBodyV2,
    ctx: ReturnType<V2Sessions['context']>,
    contact: PinnedContact,
  ): Promise<Awaited<ReturnType<typeof acceptV2>>> {
    const own = await this.keyStore.getV2Identity();
    if (!own) throw new CryptoError('bad_key', 'this key store has no v2 identity key');
    const signed = await this.keyStore.listSignedPrekeys();
    const keys: ResponderKeys = {
      username: this.me.username,
      deviceId: PREKEY_DEVICE_ID,
      identityKey: own.keyPair,
      wrappingPrivateKey: (await this.me.identity()).wrapping.privateKey,
      signedPrekey: (spk) => signed.find((p) => p.id === spk)?.keyPair,
      oneTimePrekey: async (opk) => (await this.keyStore.getOneTimePrekey(opk))?.keyPair,
    };
    return acceptV2(body, ctx, keys, await importSigningPublicKey(contact.signingKey));
  }

  /** Counts an accepted session; every `topUpEverySessions` the prekey count is checked. */
  private sessionAccepted(): void {
    if (++this.acceptedSinceCheck < this.options.topUpEverySessions) return;
    this.acceptedSinceCheck = 0;
    this.maintainInBackground();
  }

  private context(from: string, fromDevice: string, to: string, toDevice: string, id: string) {
    return { from, fromDevice, to, toDevice, id };
  }
}

/** A random prekey id (1 .. 2^31 - 1) not in `taken`: ids of handed-out keys are never reused. */
function randomPrekeyId(taken: ReadonlySet<number>): number {
  const buf = new Uint32Array(1);
  for (;;) {
    crypto.getRandomValues(buf);
    const id = (buf[0] as number) % PREKEY_ID_LIMIT;
    if (isPrekeyId(id) && !taken.has(id)) return id;
  }
}
