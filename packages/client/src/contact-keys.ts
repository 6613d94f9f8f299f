/**
 * Contacts' keys, trust on first use: a contact's keys are pinned on first fetch; a later
 * change is followed only when a chain of continuity proofs (each change signed by the
 * previous signing key) leads from the pin to it, and otherwise refused with
 * `KeyChangedError` (an identity reset) until the user trusts the fingerprint they
 * compared; a verified contact whose keys change gets nothing until verified again.
 */
import {
  fingerprint,
  formatSafetyNumber,
  importSigningPublicKey,
  importWrappingPublicKey,
  safetyNumber,
  verifyKeyChain,
} from '@gossip/crypto';
import type { KeysResponse } from '@gossip/protocol';
import type { ApiClient } from './api.js';
import {
  ApiError,
  FingerprintMismatchError,
  KeyChangedError,
  VerificationRequiredError,
} from './errors.js';
import type { LocalIdentity } from './identity.js';
import type { KeyStore, PinnedContact } from './keystore.js';

/** The pinned keys of the local user's contacts. */
export class ContactKeys {
  constructor(
    private readonly api: ApiClient,
    private readonly keyStore: KeyStore,
    private readonly me: LocalIdentity,
    private readonly now: () => number,
  ) {}

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
      await this.keyStore.deleteSessions(res.username); // v2: a new session under the new keys
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
   * with the contact are retired and the v2 sessions dropped, so the next message starts a
   * new conversation.
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
    await this.keyStore.deleteSessions(fresh.username);
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
  async checkSendable(peer: string): Promise<PinnedContact> {
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

  /** The safety number (unformatted digits) with a pinned contact. */
  async safetyNumberWith(contact: PinnedContact): Promise<string> {
    return safetyNumber(
      { username: this.me.username, ...(await this.me.ownPublicKeys()) },
      contact,
    );
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
}

/** The digits of a fingerprint or safety number as a user may type it (spaces, dashes). */
function digitsOf(text: string): string {
  return text.replace(/[\s-]/g, '');
}
