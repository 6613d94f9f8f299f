/**
 * `GossipClient`: one local account's end-to-end encryption on top of the REST
 * client and a key store: the account (keys are generated here and only the public
 * halves leave; key changes signed by the old keys), and the delivery seam the
 * `Messenger` drives (`prepareSend`, `openDeliver`, `openContactEvent`). Contacts' keys
 * (trust on first use, continuity proofs, verification) are `ContactKeys`', conversation
 * keys and message encryption `Conversations`' (v1), the v2 prekeys and ratchet sessions
 * `V2Sessions`' (issue 16: v2 is sent once both sides publish v2 keys, v1 stays readable);
 * the client is the one object an application holds and delegates to them.
 */
import {
  exportPublicKeys,
  fromUtf8,
  generateConversationKey,
  generateIdentityKeys,
  messageBodyVersion,
  signKeyChange,
  type IdentityKeys,
} from '@gossip/crypto';
import {
  newMessageId,
  type ContactFrame,
  type DeliverFrame,
  type KeysResponse,
  type PublicKeys as WireKeys,
  type SendFrame,
  type Session,
} from '@gossip/protocol';
import type { ApiClient } from './api.js';
import { parseAttachmentMessage, type AttachmentRef } from './attachments/message.js';
import { ContactKeys } from './contact-keys.js';
import { Conversations } from './conversations.js';
import { KeyChangedError } from './errors.js';
import { LocalIdentity } from './identity.js';
import type { KeyStore, PinnedContact } from './keystore.js';
import { V2Sessions, type V2ConversationStatus, type V2Options } from './v2-sessions.js';

export interface GossipClientOptions {
  api: ApiClient;
  keyStore: KeyStore;
  /** The local user's username. @default the api session's */
  username?: string;
  /** @default Date.now */
  now?: () => number;
  /** End-to-end encryption v2 (issue 16). `false`: v1 only. @default on, with V2_DEFAULTS */
  v2?: V2Options | boolean;
}

/** What `openDeliver` made of a `deliver` frame. */
export type OpenedDelivery =
  | { kind: 'key'; id: string; from: string; sentAt: number; keyId: string; isNew: boolean }
  | {
      kind: 'message';
      id: string;
      from: string;
      sentAt: number;
      /** v1: the conversation key's id; v2: `v2:<sender's device>`. */
      keyId: string;
      /** The body format it came in: 1 (conversation key) or 2 (ratchet session). */
      version: 1 | 2;
      /** v2: messages of the session that have not arrived (yet) before this one. */
      skipped?: number;
      /** The decrypted bytes. */
      data: Uint8Array;
      /** The decrypted bytes as UTF-8 text (an attachment message: its caption). */
      text: string;
      /** The file this message carries (fetch it with `Messenger.download`). */
      attachment?: AttachmentRef;
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
  private readonly me: LocalIdentity;
  private readonly pins: ContactKeys;
  private readonly conversations: Conversations;
  /** The v2 keys and sessions (`v2.enabled` false: v1 only). */
  readonly v2: V2Sessions;

  constructor(opts: GossipClientOptions) {
    this.api = opts.api;
    this.keyStore = opts.keyStore;
    this.now = opts.now ?? Date.now;
    this.me = new LocalIdentity(opts.api, opts.keyStore, opts.username);
    this.pins = new ContactKeys(opts.api, opts.keyStore, this.me, this.now);
    this.conversations = new Conversations(opts.keyStore, this.me, this.pins, this.now);
    const v2 =
      opts.v2 === undefined || opts.v2 === true
        ? {}
        : opts.v2 === false
          ? { enabled: false }
          : opts.v2;
    this.v2 = new V2Sessions(opts.api, opts.keyStore, this.me, this.pins, this.now, v2);
  }

  /** The local user. */
  get username(): string {
    return this.me.username;
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
      keys: await exportPublicKeys(keys),
    });
    await this.keyStore.putIdentity(keys);
    await this.publishV2();
    return session;
  }

  /**
   * Publishes (or tops up, or rotates) this account's v2 keys; a failure is kept in
   * `v2.lastError` and never fails the caller: until it works, messages go out as v1.
   */
  private async publishV2(): Promise<void> {
    await this.v2.maintain().catch(() => undefined);
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
      const local = await exportPublicKeys(identity);
      hasKeys =
        published.keys.wrappingKey === local.wrappingKey &&
        published.keys.signingKey === local.signingKey;
    }
    if (hasKeys) await this.publishV2();
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
    const next = await exportPublicKeys(keys);
    let proof: string | undefined;
    if (old) {
      const published = await this.api.getUserKeys(this.username);
      const mine = await exportPublicKeys(old);
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
    if (this.v2.enabled) await this.v2.afterKeyChange().catch(() => undefined);
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
  identity(): Promise<IdentityKeys> {
    return this.me.identity();
  }

  /** The local user's published-form keys. */
  ownPublicKeys(): Promise<WireKeys> {
    return this.me.ownPublicKeys();
  }

  // ---------------------------------------------------------------- contacts' keys (ContactKeys)

  /**
   * A contact's keys, fetched from the directory: pinned on first fetch; later fetches
   * must match the pin or follow a signed rotation, or `KeyChangedError` is thrown.
   */
  contactKeys(username: string): Promise<PinnedContact> {
    return this.pins.contactKeys(username);
  }

  /** The pinned keys of a contact, fetching and pinning them if there are none yet. */
  pinnedKeys(username: string): Promise<PinnedContact> {
    return this.pins.pinnedKeys(username);
  }

  /** Throws `VerificationRequiredError` (or a key error) when nothing may be sent to `to`. */
  checkSendable(to: string): Promise<PinnedContact> {
    return this.pins.checkSendable(to);
  }

  /** Trusts a contact's published keys after an identity reset: see `ContactKeys`. */
  trustContactKeys(username: string, expectedFingerprint: string): Promise<PinnedContact> {
    return this.pins.trustContactKeys(username, expectedFingerprint);
  }

  /** Marks a contact's pinned keys as verified (safety numbers compared). */
  markVerified(username: string, expectedSafetyNumber?: string): Promise<void> {
    return this.pins.markVerified(username, expectedSafetyNumber);
  }

  /** The safety number with a contact, 12 groups of five digits (`groupsPerLine` per line). */
  safetyNumber(username: string, groupsPerLine = 12): Promise<string> {
    return this.pins.safetyNumber(username, groupsPerLine);
  }

  // ---------------------------------------------------------------- conversations (Conversations)

  /** Starts a conversation with a contact: returns the `kind: "key"` body to send. */
  startConversation(peer: string): Promise<{ keyId: string; body: string }> {
    return this.conversations.startConversation(peer);
  }

  /** Call when the server `accepted` a `kind: "key"` frame this client sent. */
  keyMessageAccepted(frame: Pick<SendFrame, 'to' | 'kind' | 'body'>): Promise<void> {
    return this.conversations.keyMessageAccepted(frame);
  }

  /** Receives (verifies, unwraps, stores) a `kind: "key"` body from `from`. */
  receiveKey(from: string, body: string): Promise<{ keyId: string; isNew: boolean }> {
    return this.conversations.receiveKey(from, body);
  }

  /** Whether there is a conversation key to send to `peer` with. */
  hasConversation(peer: string): Promise<boolean> {
    return this.conversations.hasConversation(peer);
  }

  /** Whether messages to `peer` go out as v2 (there is a ratchet session with them). */
  v2Status(peer: string): Promise<V2ConversationStatus> {
    return this.v2.status(peer);
  }

  /** Encrypts a message to `to` with the current conversation key. */
  encrypt(
    to: string,
    plaintext: string | Uint8Array,
    id?: string,
  ): Promise<{ id: string; body: string }> {
    return this.conversations.encrypt(to, plaintext, id);
  }

  /** Decrypts a message body from `from` with id `id`, addressed to the local user. */
  decrypt(from: string, id: string, body: string): Promise<{ keyId: string; data: Uint8Array }> {
    return this.conversations.decrypt(from, id, body);
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
  async prepareSend(
    to: string,
    plaintext: string | Uint8Array,
    attachments?: string[],
  ): Promise<SendFrame[]> {
    const contact = await this.pins.checkSendable(to);
    const id = newMessageId();
    // v2 when both sides publish v2 keys: the session state is stored before this returns.
    const v2Body = await this.v2.encrypt(contact, plaintext, id);
    if (v2Body !== undefined) {
      const frame: SendFrame = { type: 'send', id, to, kind: 'message', body: v2Body };
      if (attachments?.length) frame.attachments = attachments;
      return [frame];
    }
    const frames: SendFrame[] = [];
    const current = await this.keyStore.currentConversationKey(to);
    if (!current) {
      const { body } = await this.startConversation(to);
      frames.push({ type: 'send', id: newMessageId(), to, kind: 'key', body });
    } else if (current.origin === 'outgoing' && !current.confirmed) {
      // Same key, freshly wrapped: the receiver stores a key id once, so repeats are harmless.
      const body = await this.conversations.sealFor(
        await this.pinnedKeys(to),
        current.key,
        current.createdAt,
      );
      frames.push({ type: 'send', id: newMessageId(), to, kind: 'key', body });
    }
    const msg = await this.encrypt(to, plaintext, id);
    const frame: SendFrame = { type: 'send', id: msg.id, to, kind: 'message', body: msg.body };
    if (attachments?.length) frame.attachments = attachments;
    frames.push(frame);
    return frames;
  }

  /** Opens a `deliver` frame: stores a key message, or decrypts a message. */
  async openDeliver(frame: DeliverFrame): Promise<OpenedDelivery> {
    if (frame.kind === 'key') {
      const { keyId, isNew } = await this.receiveKey(frame.from, frame.body);
      return { kind: 'key', id: frame.id, from: frame.from, sentAt: frame.sentAt, keyId, isNew };
    }
    let opened: OpenedDelivery & { kind: 'message' };
    if (messageBodyVersion(frame.body) === 2) {
      // DuplicateMessageError for a redelivery of a message decrypted before.
      const v2 = await this.v2.decrypt(frame.from, frame.id, frame.body);
      opened = this.opened(frame, `v2:${v2.device}`, 2, v2.data);
      if (v2.skipped > 0) opened.skipped = v2.skipped;
    } else {
      const { keyId, data } = await this.decrypt(frame.from, frame.id, frame.body);
      opened = this.opened(frame, keyId, 1, data);
    }
    return opened;
  }

  /**
   * The application handled an opened message (its handler finished; it is acked next):
   * for v2, the message key kept for a redelivery after a crash is deleted (`V2Sessions`).
   * The `Messenger` calls this; who uses `openDeliver` without it calls it before acking.
   */
  async messageHandled(opened: OpenedDelivery): Promise<void> {
    if (opened.kind === 'message' && opened.version === 2) {
      // keyId is `v2:<sender's device>`: only that session can hold the message's key.
      const device = opened.keyId.startsWith('v2:') ? opened.keyId.slice(3) : undefined;
      await this.v2.handled(opened.from, opened.id, device);
    }
  }

  private opened(
    frame: DeliverFrame,
    keyId: string,
    version: 1 | 2,
    data: Uint8Array,
  ): OpenedDelivery & { kind: 'message' } {
    const carried = parseAttachmentMessage(data);
    const opened: OpenedDelivery & { kind: 'message' } = {
      kind: 'message',
      id: frame.id,
      from: frame.from,
      sentAt: frame.sentAt,
      keyId,
      version,
      data,
      text: carried ? carried.text : fromUtf8(data),
    };
    if (carried) opened.attachment = carried.attachment;
    return opened;
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
      const local = identity ? await exportPublicKeys(identity) : undefined;
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
    const body = await this.conversations.sealFor(contact, ck, createdAt);
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
