/**
 * `GossipClient`: one local account's end-to-end encryption on top of the REST
 * client and a key store. It owns the rules: keys are generated here and only the
 * public halves leave; a contact's keys are pinned on first fetch (trust on first
 * use); a later change is followed only when a chain of continuity proofs (each change
 * signed by the previous signing key) leads from the pin to it, and otherwise refused
 * with `KeyChangedError` (an identity reset) until the user trusts the fingerprint they
 * compared; a verified contact whose keys change gets nothing until verified again; key
 * envelopes are verified against the pinned signing key before they are unwrapped;
 * messages are bound to sender, recipient and id.
 */
import {
  CryptoError,
  decryptMessage,
  encryptMessage,
  exportPublicKeys,
  fingerprint,
  formatSafetyNumber,
  fromUtf8,
  generateConversationKey,
  generateIdentityKeys,
  importSigningPublicKey,
  importWrappingPublicKey,
  openKeyEnvelope,
  parseKeyEnvelope,
  parseMessageBody,
  safetyNumber,
  sealKeyEnvelope,
  signKeyChange,
  verifyKeyChain,
  type ConversationKey,
  type IdentityKeys,
} from '@gossip/crypto';
import {
  MAX_BODY_CHARS,
  newMessageId,
  type ContactFrame,
  type DeliverFrame,
  type KeysResponse,
  type PublicKeys as WireKeys,
  type SendFrame,
  type Session,
} from '@gossip/protocol';
import type { ApiClient } from './api.js';
import {
  ApiError,
  FingerprintMismatchError,
  KeyChangedError,
  MissingKeyError,
  NotLoggedInError,
  VerificationRequiredError,
} from './errors.js';
import type { KeyStore, PinnedContact, StoredConversationKey } from './keystore.js';

export interface GossipClientOptions {
  api: ApiClient;
  keyStore: KeyStore;
  /** The local user's username. @default the api session's */
  username?: string;
  /** @default Date.now */
  now?: () => number;
}

/** What `openDeliver` made of a `deliver` frame. */
export type OpenedDelivery =
  | { kind: 'key'; id: string; from: string; sentAt: number; keyId: string; isNew: boolean }
  | {
      kind: 'message';
      id: string;
      from: string;
      sentAt: number;
      keyId: string;
      /** The decrypted bytes. */
      data: Uint8Array;
      /** The decrypted bytes as UTF-8 text. */
      text: string;
    };

/** What `openContactEvent` made of a `contact` frame. */
export type OpenedContactEvent =
  | { event: ContactFrame['event']; from: string; keyId?: string }
  | {
      event: 'key-changed';
      from: string;
      /** Set for an identity reset (no valid continuity proof): the pin was kept. */
      error?: KeyChangedError;
      /** The contact was verified: nothing is sent to them until verified again. */
      needsVerification?: boolean;
    }
  | {
      event: 'key-changed';
      /** The local user: one of their sessions published keys. */
      from: string;
      own: true;
      /** The published keys are no longer this key store's: this device cannot read new messages. */
      replaced: boolean;
    };

/** One local account: keys, pinned contacts, conversations. */
export class GossipClient {
  readonly api: ApiClient;
  readonly keyStore: KeyStore;
  private readonly now: () => number;
  private readonly fixedUsername: string | undefined;

  constructor(opts: GossipClientOptions) {
    this.api = opts.api;
    this.keyStore = opts.keyStore;
    this.now = opts.now ?? Date.now;
    this.fixedUsername = opts.username;
  }

  /** The local user. */
  get username(): string {
    const u = this.fixedUsername ?? this.api.currentSession?.username;
    if (!u) throw new NotLoggedInError('no local user: register or log in first');
    return u;
  }

  // ---------------------------------------------------------------- accounts

  /**
   * Generates the user's key pairs, registers the account with the public halves and,
   * once the server accepted it, stores the key pairs locally.
   */
  async register(input: {
    username: string;
    password: string;
    displayName?: string;
  }): Promise<Session> {
    const keys = await generateIdentityKeys({ extractable: this.keyStore.requiresExtractable });
    const session = await this.api.register({
      username: input.username,
      password: input.password,
      ...(input.displayName === undefined ? {} : { displayName: input.displayName }),
      keys: await this.wireKeys(keys),
    });
    await this.keyStore.putIdentity(keys);
    return session;
  }

  /**
   * Logs in. `hasKeys` says whether this key store holds the account's private keys;
   * without them the account cannot read messages here until `changeKeys()` publishes
   * new ones (which contacts will see as a key change).
   */
  async login(username: string, password: string): Promise<{ session: Session; hasKeys: boolean }> {
    const session = await this.api.login({ username, password });
    const identity = await this.keyStore.getIdentity();
    let hasKeys = false;
    if (identity) {
      const published = await this.api.getUserKeys(session.user.username);
      const local = await this.wireKeys(identity);
      hasKeys =
        published.keys.wrappingKey === local.wrappingKey &&
        published.keys.signingKey === local.signingKey;
    }
    return { session, hasKeys };
  }

  /**
   * Generates new key pairs and publishes them (the api wants the password again). When
   * this store holds the keys published now, the change is signed with the old signing
   * key (a continuity proof, so contacts follow it without an identity-reset warning);
   * otherwise (keys lost) it goes out unsigned and contacts see an identity reset.
   * Then every conversation key shared under the old identity is retired and a fresh one
   * is made for each pinned contact: it goes out in front of the next message to them.
   */
  async changeKeys(password: string): Promise<KeysResponse & { signed: boolean }> {
    const old = await this.keyStore.getIdentity();
    const keys = await generateIdentityKeys({ extractable: this.keyStore.requiresExtractable });
    const next = await this.wireKeys(keys);
    let proof: string | undefined;
    if (old) {
      const published = await this.api.getUserKeys(this.username);
      const mine = await this.wireKeys(old);
      if (
        published.keys.signingKey === mine.signingKey &&
        published.keys.wrappingKey === mine.wrappingKey
      ) {
        proof = await signKeyChange(
          { username: this.username, previousSigningKey: mine.signingKey, next },
          old.signing.privateKey,
        );
      }
    }
    const res = await this.api.changeKeys({
      keys: next,
      password,
      ...(proof === undefined ? {} : { proof }),
    });
    await this.keyStore.putIdentity(keys);
    await this.rekeyContacts();
    return { ...res, signed: proof !== undefined };
  }

  /**
   * After the local keys changed: retires every conversation key with every pinned contact
   * (kept for reading what is still in flight) and makes a new one for each, so nothing
   * more is sent under a key shared with the old identity.
   */
  private async rekeyContacts(): Promise<void> {
    for (const contact of await this.keyStore.listPinned()) {
      await this.keyStore.retireConversationKeys(contact.username);
      await this.startConversation(contact.username);
    }
  }

  /** The local key pairs; throws when this store has none. */
  async identity(): Promise<IdentityKeys> {
    const id = await this.keyStore.getIdentity();
    if (!id) {
      throw new MissingKeyError(
        'identity',
        `no private keys for ${this.username} in this key store`,
      );
    }
    return id;
  }

  /** The local user's published-form keys. */
  async ownPublicKeys(): Promise<WireKeys> {
    return this.wireKeys(await this.identity());
  }

  private async wireKeys(keys: IdentityKeys): Promise<WireKeys> {
    return exportPublicKeys(keys);
  }

  // ---------------------------------------------------------------- contacts' keys

  /**
   * A contact's keys, fetched from the directory. The first fetch pins them (trust on
   * first use); later fetches must match the pin, or `KeyChangedError` is thrown and the
   * pin is kept.
   */
  async contactKeys(username: string): Promise<PinnedContact> {
    const res = await this.api.getUserKeys(username);
    if (res.username !== username) {
      // Pins are keyed by username: never let an answer about someone else land under it.
      throw new ApiError(502, 'http_502', `asked for ${username}'s keys, got ${res.username}'s`);
    }
    const fresh = await this.toPinned(res);
    const pinned = await this.keyStore.getPinned(res.username);
    if (!pinned) {
      await this.keyStore.putPinned(fresh);
      return fresh;
    }
    if (pinned.wrappingKey === fresh.wrappingKey && pinned.signingKey === fresh.signingKey) {
      return pinned;
    }
    const continuous = await verifyKeyChain({
      username: res.username,
      from: { keyVersion: pinned.keyVersion, signingKey: pinned.signingKey },
      to: { keyVersion: res.keyVersion, keys: res.keys },
      chain: res.keyChain ?? [],
    });
    if (continuous) {
      // A rotation signed by the key we trusted: follow it, but a contact the user had
      // verified must be verified again before anything is sent to them.
      const next: PinnedContact = {
        ...fresh,
        needsVerification: pinned.verified || pinned.needsVerification === true,
      };
      await this.keyStore.putPinned(next);
      await this.keyStore.retireConversationKeys(res.username);
      return next;
    }
    throw new KeyChangedError(
      res.username,
      pinned.fingerprint,
      fresh.fingerprint,
      await this.safetyNumberWith(fresh),
    );
  }

  /** The pinned keys of a contact, fetching and pinning them if there are none yet. */
  async pinnedKeys(username: string): Promise<PinnedContact> {
    return (await this.keyStore.getPinned(username)) ?? this.contactKeys(username);
  }

  /**
   * Trusts a contact's currently published keys after an identity reset, given what the
   * user compared out of band: the contact's 30-digit fingerprint or the 60-digit safety
   * number (spaces ignored). Anything else throws `FingerprintMismatchError` and trusts
   * nothing. Trusting is not verifying: the contact is not marked verified, and one that
   * was verified before stays unsendable until `markVerified`. The old conversation keys
   * with the contact are retired, so the next message starts a new conversation.
   */
  async trustContactKeys(username: string, expectedFingerprint: string): Promise<PinnedContact> {
    const res = await this.api.getUserKeys(username);
    if (res.username !== username) {
      throw new ApiError(502, 'http_502', `asked for ${username}'s keys, got ${res.username}'s`);
    }
    const fresh = await this.toPinned(res);
    const expected = digitsOf(expectedFingerprint);
    const actual = expected.length === 60 ? await this.safetyNumberWith(fresh) : fresh.fingerprint;
    if (expected !== actual) throw new FingerprintMismatchError(username, expected, actual);
    const pinned = await this.keyStore.getPinned(username);
    const next: PinnedContact = {
      ...fresh,
      verified: false,
      needsVerification: pinned?.verified === true || pinned?.needsVerification === true,
    };
    await this.keyStore.putPinned(next);
    await this.keyStore.retireConversationKeys(fresh.username);
    return next;
  }

  /**
   * Marks a contact's pinned keys as verified (safety numbers compared). With
   * `expectedSafetyNumber` (what the user compared, spaces ignored) it refuses a number
   * that is not the current one with `FingerprintMismatchError`.
   */
  async markVerified(username: string, expectedSafetyNumber?: string): Promise<void> {
    const pinned = await this.pinnedKeys(username);
    if (expectedSafetyNumber !== undefined) {
      const expected = digitsOf(expectedSafetyNumber);
      const actual = await this.safetyNumberWith(pinned);
      if (expected !== actual) throw new FingerprintMismatchError(username, expected, actual);
    }
    await this.keyStore.putPinned({ ...pinned, verified: true, needsVerification: false });
  }

  /** Throws `VerificationRequiredError` when `peer` must be verified again before sending. */
  private async checkSendable(peer: string): Promise<PinnedContact> {
    const contact = await this.pinnedKeys(peer);
    if (contact.needsVerification) throw new VerificationRequiredError(contact.username);
    return contact;
  }

  /**
   * The safety number with a contact, over the local and the pinned keys, formatted
   * as 12 groups of five digits (`groupsPerLine` per line).
   */
  async safetyNumber(username: string, groupsPerLine = 12): Promise<string> {
    return formatSafetyNumber(
      await this.safetyNumberWith(await this.pinnedKeys(username)),
      groupsPerLine,
    );
  }

  private async safetyNumberWith(contact: PinnedContact): Promise<string> {
    return safetyNumber({ username: this.username, ...(await this.ownPublicKeys()) }, contact);
  }

  private async toPinned(res: KeysResponse): Promise<PinnedContact> {
    // Import both now so a bad or short key is refused before it is pinned.
    await importWrappingPublicKey(res.keys.wrappingKey);
    await importSigningPublicKey(res.keys.signingKey);
    return {
      username: res.username,
      wrappingKey: res.keys.wrappingKey,
      signingKey: res.keys.signingKey,
      keyVersion: res.keyVersion,
      fingerprint: await fingerprint({ username: res.username, ...res.keys }),
      pinnedAt: this.now(),
      verified: false,
    };
  }

  // ---------------------------------------------------------------- conversations

  /**
   * Starts a conversation with a contact: a fresh AES-256 key, wrapped for the contact's
   * pinned wrapping key and signed. Returns the `kind: "key"` body to send; the key is
   * stored (unconfirmed, see `keyMessageAccepted`) and used for sending from now on.
   */
  async startConversation(peer: string): Promise<{ keyId: string; body: string }> {
    const contact = await this.pinnedKeys(peer);
    const ck = await generateConversationKey();
    const createdAt = this.now();
    const body = await this.sealFor(contact, ck, createdAt);
    await this.keyStore.putConversationKey({
      peer: contact.username,
      key: ck,
      origin: 'outgoing',
      createdAt,
      confirmed: false,
    });
    return { keyId: ck.id, body };
  }

  private async sealFor(
    contact: PinnedContact,
    ck: ConversationKey,
    createdAt: number,
  ): Promise<string> {
    const me = await this.identity();
    return sealKeyEnvelope({
      conversationKey: ck,
      from: this.username,
      to: contact.username,
      recipientWrappingKey: await importWrappingPublicKey(contact.wrappingKey),
      senderSigningKey: me.signing.privateKey,
      now: createdAt,
    });
  }

  /**
   * Call when the server `accepted` a `kind: "key"` frame this client sent: the key is
   * now sure to reach the contact, so later messages stop carrying the key message.
   */
  async keyMessageAccepted(frame: Pick<SendFrame, 'to' | 'kind' | 'body'>): Promise<void> {
    if (frame.kind !== 'key') return;
    await this.keyStore.confirmConversationKey(frame.to, parseKeyEnvelope(frame.body).kid);
  }

  /**
   * Receives a `kind: "key"` body from `from` (as the server authenticated it): checks
   * it is addressed from them to us, verifies the signature with their pinned signing
   * key, unwraps and stores the key. A bad signature makes it re-check the directory: a
   * rotation signed by the pinned key is followed and the envelope checked against the
   * new key; an identity reset surfaces as `KeyChangedError` rather than as forgery.
   */
  async receiveKey(from: string, body: string): Promise<{ keyId: string; isNew: boolean }> {
    const me = await this.identity();
    const contact = await this.pinnedKeys(from);
    const open = async (signingKey: string) =>
      openKeyEnvelope(body, {
        from,
        to: this.username,
        senderSigningKey: await importSigningPublicKey(signingKey),
        recipientUnwrappingKey: me.wrapping.privateKey,
        extractable: this.keyStore.requiresExtractable,
      });
    let opened;
    try {
      opened = await open(contact.signingKey);
    } catch (err) {
      if (!(err instanceof CryptoError && err.code === 'bad_signature')) throw err;
      // Throws KeyChangedError on an identity reset; follows a signed rotation.
      const current = await this.contactKeys(from);
      if (current.signingKey === contact.signingKey) throw err;
      opened = await open(current.signingKey);
    }
    const entry: StoredConversationKey = {
      peer: from,
      key: opened.conversationKey,
      origin: 'incoming',
      // Local time, never the sender's `ts`: see StoredConversationKey.createdAt.
      createdAt: this.now(),
      confirmed: true,
    };
    const isNew = await this.keyStore.putConversationKey(entry);
    return { keyId: opened.conversationKey.id, isNew };
  }

  /** Whether there is a conversation key to send to `peer` with. */
  async hasConversation(peer: string): Promise<boolean> {
    return (await this.keyStore.currentConversationKey(peer)) !== undefined;
  }

  /** Encrypts a message to `to` with the current conversation key. */
  async encrypt(
    to: string,
    plaintext: string | Uint8Array,
    id: string = newMessageId(),
  ): Promise<{ id: string; body: string }> {
    await this.checkSendable(to);
    const current = await this.keyStore.currentConversationKey(to);
    if (!current) {
      throw new MissingKeyError('conversation', `no conversation with ${to} yet: start one first`);
    }
    const body = await encryptMessage(current.key, plaintext, { from: this.username, to, id });
    if (body.length > MAX_BODY_CHARS) {
      // Refuse here rather than have the gateway refuse the frame after the fact.
      throw new RangeError(
        `message too large: its body would be ${body.length} characters, the limit is ${MAX_BODY_CHARS}`,
      );
    }
    return { id, body };
  }

  /** Decrypts a message body from `from` with id `id`, addressed to the local user. */
  async decrypt(
    from: string,
    id: string,
    body: string,
  ): Promise<{ keyId: string; data: Uint8Array }> {
    const { kid } = parseMessageBody(body);
    const stored = await this.keyStore.getConversationKey(from, kid);
    if (!stored) {
      throw new MissingKeyError(
        'conversation',
        `no conversation key ${kid} from ${from}: its key message has not been handled yet`,
      );
    }
    const data = await decryptMessage(stored.key, body, { from, to: this.username, id });
    return { keyId: kid, data };
  }

  // ---------------------------------------------------------------- the delivery seam

  /**
   * The `send` frames that deliver `plaintext` to `to`, in order: a key frame first if
   * there is no conversation yet, or if the current key's key message was never
   * confirmed `accepted` (so a crash between making a key and sending it cannot leave
   * the contact without it); then the message. Send them in this order, resend each with
   * its own id until it is `accepted`, and report accepted key frames to
   * `keyMessageAccepted`.
   */
  async prepareSend(to: string, plaintext: string | Uint8Array): Promise<SendFrame[]> {
    await this.checkSendable(to);
    const frames: SendFrame[] = [];
    const current = await this.keyStore.currentConversationKey(to);
    if (!current) {
      const { body } = await this.startConversation(to);
      frames.push({ type: 'send', id: newMessageId(), to, kind: 'key', body });
    } else if (current.origin === 'outgoing' && !current.confirmed) {
      // Same key, freshly wrapped: the receiver stores a key id once, so repeats are harmless.
      const body = await this.sealFor(await this.pinnedKeys(to), current.key, current.createdAt);
      frames.push({ type: 'send', id: newMessageId(), to, kind: 'key', body });
    }
    const msg = await this.encrypt(to, plaintext);
    frames.push({ type: 'send', id: msg.id, to, kind: 'message', body: msg.body });
    return frames;
  }

  /** Opens a `deliver` frame: stores a key message, or decrypts a message. */
  async openDeliver(frame: DeliverFrame): Promise<OpenedDelivery> {
    if (frame.kind === 'key') {
      const { keyId, isNew } = await this.receiveKey(frame.from, frame.body);
      return { kind: 'key', id: frame.id, from: frame.from, sentAt: frame.sentAt, keyId, isNew };
    }
    const { keyId, data } = await this.decrypt(frame.from, frame.id, frame.body);
    return {
      kind: 'message',
      id: frame.id,
      from: frame.from,
      sentAt: frame.sentAt,
      keyId,
      data,
      text: fromUtf8(data),
    };
  }

  /**
   * Handles a `contact` frame: an `accepted` event's key envelope is received like a
   * key message; a `key-changed` event re-checks the contact's keys and reports a
   * `KeyChangedError` (not thrown: the frame should still be acked).
   */
  async openContactEvent(frame: ContactFrame): Promise<OpenedContactEvent> {
    if (frame.event === 'accepted' && frame.body) {
      const { keyId } = await this.receiveKey(frame.from, frame.body);
      return { event: 'accepted', from: frame.from, keyId };
    }
    if (frame.event === 'key-changed' && frame.from === this.username) {
      // One of the owner's sessions published keys: if they are not this store's, this
      // device can no longer read new messages (and should not stay silent about it).
      const published = await this.api.getUserKeys(this.username);
      const identity = await this.keyStore.getIdentity();
      const local = identity ? await this.wireKeys(identity) : undefined;
      const replaced =
        local?.signingKey !== published.keys.signingKey ||
        local.wrappingKey !== published.keys.wrappingKey;
      return { event: 'key-changed', from: frame.from, own: true, replaced };
    }
    if (frame.event === 'key-changed') {
      try {
        const pinned = await this.contactKeys(frame.from);
        return pinned.needsVerification
          ? { event: 'key-changed', from: frame.from, needsVerification: true }
          : { event: 'key-changed', from: frame.from };
      } catch (err) {
        if (err instanceof KeyChangedError)
          return { event: 'key-changed', from: frame.from, error: err };
        throw err;
      }
    }
    return { event: frame.event, from: frame.from };
  }

  /**
   * Accepts a contact request and, with it, starts the conversation: the accept carries
   * a key envelope for the requester.
   */
  async acceptContact(username: string): Promise<{ keyId: string }> {
    const contact = await this.pinnedKeys(username);
    const ck = await generateConversationKey();
    const createdAt = this.now();
    const body = await this.sealFor(contact, ck, createdAt);
    // Stored only once the api took the accept: the envelope then travels in a stored
    // contact event, so the key is confirmed; if the call fails, no orphan key is used.
    await this.api.acceptContact(username, body);
    await this.keyStore.putConversationKey({
      peer: contact.username,
      key: ck,
      origin: 'outgoing',
      createdAt,
      confirmed: true,
    });
    return { keyId: ck.id };
  }
}

/** The digits of a fingerprint or safety number as a user may type it (spaces, dashes). */
function digitsOf(text: string): string {
  return text.replace(/[\s-]/g, '');
}
