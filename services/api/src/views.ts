/** Shapes the stored documents into the protocol's response bodies (and nothing more). */
import type { KeysResponse, Me, Profile, Session } from '@gossip/protocol';
import type { UserDoc } from './store.js';
import type { IssuedTokens } from './tokens.js';

export function toProfile(u: Pick<UserDoc, '_id' | 'displayName' | 'avatar'>): Profile {
  return { username: u._id, displayName: u.displayName, hasAvatar: u.avatar !== null };
}

export function toMe(u: UserDoc): Me {
  return { ...toProfile(u), keyVersion: u.keyVersion, createdAt: u.createdAt.toISOString() };
}

export function toKeys(u: UserDoc): KeysResponse {
  return {
    username: u._id,
    keys: { wrappingKey: u.keys.wrappingKey, signingKey: u.keys.signingKey },
    keyVersion: u.keyVersion,
    fingerprint: u.fingerprint,
    updatedAt: u.keysUpdatedAt.toISOString(),
    keyChain: (u.keyChain ?? []).map((s) => ({
      keyVersion: s.keyVersion,
      keys: { wrappingKey: s.keys.wrappingKey, signingKey: s.keys.signingKey },
      proof: s.proof,
    })),
  };
}

export function toSession(u: UserDoc, t: IssuedTokens): Session {
  return { tokenType: 'Bearer', ...t, user: toMe(u) };
}
