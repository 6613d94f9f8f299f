/**
 * The local user of a `GossipClient`: who they are (fixed, or the api session's user) and
 * their key pairs in the key store.
 */
import { exportPublicKeys, type IdentityKeys } from '@gossip/crypto';
import type { PublicKeys as WireKeys } from '@gossip/protocol';
import type { ApiClient } from './api.js';
import { MissingKeyError, NotLoggedInError } from './errors.js';
import type { KeyStore } from './keystore.js';

/** The local user and their key pairs. */
export class LocalIdentity {
  constructor(
    private readonly api: ApiClient,
    private readonly keyStore: KeyStore,
    private readonly fixedUsername: string | undefined,
  ) {}

  /** The local user. */
  get username(): string {
    const u = this.fixedUsername ?? this.api.currentSession?.username;
    if (!u) throw new NotLoggedInError('no local user: register or log in first');
    return u;
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
    return exportPublicKeys(await this.identity());
  }
}
