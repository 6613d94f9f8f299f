/**
 * Conversations with contacts: AES-256 conversation keys, sent wrapped for the contact's
 * pinned wrapping key and signed (key envelopes), verified against the pinned signing key
 * before they are unwrapped, and the messages encrypted under them, bound to sender,
 * recipient and id.
 */
import {
  CryptoError,
  decryptMessage,
  encryptMessage,
  generateConversationKey,
  importSigningPublicKey,
  importWrappingPublicKey,
  openKeyEnvelope,
  parseKeyEnvelope,
  parseMessageBody,
  sealKeyEnvelope,
  type ConversationKey,
} from '@gossip/crypto';
import { MAX_BODY_CHARS, newMessageId, type SendFrame } from '@gossip/protocol';
import type { ContactKeys } from './contact-keys.js';
import { MissingKeyError } from './errors.js';
import type { LocalIdentity } from './identity.js';
import type { KeyStore, PinnedContact, StoredConversationKey } from './keystore.js';

/** The local user's conversation keys and messages. */
export class Conversations {
  constructor(
    private readonly keyStore: KeyStore,
    private readonly me: LocalIdentity,
    private readonly pins: ContactKeys,
    private readonly now: () => number,
  ) {}

  /**
   * Starts a conversation with a contact: a fresh AES-256 key, wrapped for the contact's
   * pinned wrapping key and signed. Returns the `kind: "key"` body to send; the key is
   * stored (unconfirmed, see `keyMessageAccepted`) and used for sending from now on.
   */
  async startConversation(peer: string): Promise<{ keyId: string; body: string }> {
    const contact = await this.pins.pinnedKeys(peer);
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

  /** A key envelope of `ck` for `contact`, signed by the local identity. */
  async sealFor(contact: PinnedContact, ck: ConversationKey, createdAt: number): Promise<string> {
    const me = await this.me.identity();
    return sealKeyEnvelope({
      conversationKey: ck,
      from: this.me.username,
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
    const me = await this.me.identity();
    const contact = await this.pins.pinnedKeys(from);
    const open = async (signingKey: string) =>
      openKeyEnvelope(body, {
        from,
        to: this.me.username,
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
      const current = await this.pins.contactKeys(from);
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
    await this.pins.checkSendable(to);
    const current = await this.keyStore.currentConversationKey(to);
    if (!current) {
      throw new MissingKeyError('conversation', `no conversation with ${to} yet: start one first`);
    }
    const body = await encryptMessage(current.key, plaintext, { from: this.me.username, to, id });
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
    const data = await decryptMessage(stored.key, body, { from, to: this.me.username, id });
    return { keyId: kid, data };
  }
}
