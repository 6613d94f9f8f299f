/**
 * The key directory's rules: each public key must import through WebCrypto as what it
 * claims to be (RSA-OAEP-SHA-256 of 3072 to 4096 bits, Ed25519), so the directory never
 * hands out a key a client cannot use; and a key change needs the password again and
 * keeps the continuity proof (the new keys signed by the previous signing key) so every
 * client can tell a rotation from an identity reset.
 */
import { fingerprint, importPublicKeys, verifyKeyChange } from '@gossip/crypto';
import {
  MAX_KEY_CHAIN,
  RSA_MAX_BITS,
  type ChangeKeysRequest,
  type KeyChainStep,
  type PublicKeys,
} from '@gossip/protocol';
import type { AppContext } from './context.js';
import { ApiError } from './errors.js';
import type { UserDoc } from './store.js';

/** Throws `invalid_key` unless both keys are valid public keys of the right kind and size. */
export async function checkPublicKeys(keys: PublicKeys): Promise<void> {
  let imported;
  try {
    imported = await importPublicKeys(keys);
  } catch (err) {
    const why = err instanceof Error ? err.message : 'unreadable key';
    throw new ApiError('invalid_key', `Invalid public key: ${why}.`);
  }
  const bits = (imported.wrappingKey.algorithm as RsaHashedKeyAlgorithm).modulusLength;
  if (bits > RSA_MAX_BITS) {
    throw new ApiError(
      'invalid_key',
      `The wrapping key has ${bits} bits; at most ${RSA_MAX_BITS}.`,
    );
  }
}

/** The directory's 30-digit fingerprint of a user's keys (packages/crypto `fingerprint`). */
export function keyFingerprint(username: string, keys: PublicKeys): Promise<string> {
  return fingerprint({ username, wrappingKey: keys.wrappingKey, signingKey: keys.signingKey });
}

/**
 * Replaces `username`'s published keys. Order matters: the rate limit first (it also
 * bounds password guessing with a stolen access token), then the password, then the keys
 * and the proof, which must verify under the signing key published *now*; the update is
 * conditional on that key version, so two racing changes cannot both pass with one proof.
 * Every contact and pending peer gets `key-changed`, and so does the owner (their other
 * sessions learn that this device's keys replaced theirs).
 */
export async function changeKeys(
  ctx: AppContext,
  username: string,
  req: ChangeKeysRequest,
): Promise<UserDoc> {
  const { c, config, limiter } = ctx;
  await limiter.enforce('key_change', username, config.limits.keyChangePerUser);
  const user = await c.users.findOne({ _id: username });
  if (!user) throw new ApiError('invalid_token');
  if (!(await ctx.passwords.verify(req.password, user.passwordHash))) {
    throw new ApiError('invalid_credentials');
  }
  const keys = { wrappingKey: req.keys.wrappingKey, signingKey: req.keys.signingKey };
  await checkPublicKeys(keys);
  const proof = req.proof ?? null;
  if (
    proof !== null &&
    !(await verifyKeyChange(
      { username, previousSigningKey: user.keys.signingKey, next: keys },
      proof,
    ))
  ) {
    throw new ApiError('invalid_key_proof');
  }
  const step: KeyChainStep = { keyVersion: user.keyVersion + 1, keys, proof };
  const keyChain = [...(user.keyChain ?? []), step].slice(-MAX_KEY_CHAIN);
  const updated = await c.users.findOneAndUpdate(
    { _id: username, keyVersion: user.keyVersion },
    {
      $set: {
        keys,
        fingerprint: await keyFingerprint(username, keys),
        keysUpdatedAt: new Date(ctx.now()),
        keyVersion: step.keyVersion,
        keyChain,
      },
    },
    { returnDocument: 'after' },
  );
  if (!updated) {
    throw new ApiError(
      'invalid_key_proof',
      'Your keys changed meanwhile: fetch them and sign the change with the current key.',
    );
  }
  const peers = await c.contacts
    .find({ owner: username, state: { $ne: 'none' } }, { projection: { peer: 1 } })
    .toArray();
  for (const p of peers) {
    await ctx.events.emit(p.peer, username, 'key-changed', { keyVersion: updated.keyVersion });
  }
  await ctx.events.emit(username, username, 'key-changed', { keyVersion: updated.keyVersion });
  return updated;
}
