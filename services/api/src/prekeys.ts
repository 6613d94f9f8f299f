/**
 * The v2 key directory (issue 16): each account's X25519 identity key and signed prekey
 * (on its user document, with the key version they were checked under) and its one-time
 * prekeys (the `prekeys` collection, one document per key, `_id` = `owner:id`).
 *
 * Uploads are checked whole before anything is written: every key must import as X25519
 * and both signatures must verify under the signing key published now, and the identity
 * key stays what it was unless the account's keys changed since it was set. A key change
 * withdraws the prekeys (they were signed by the old key) until the next upload.
 *
 * A bundle fetch hands out one one-time prekey by deleting it: `deleteOne` by `_id`, and
 * only the fetch whose delete counted it (`deletedCount === 1`) serves it, so no two
 * fetches ever get the same one. (`findOneAndDelete` would be one round trip less, but
 * FerretDB 1.24's returns the same document to concurrent callers; measured here with 30
 * parallel calls over 20 documents, see docs/protocol.md, Prekeys.)
 */
import { randomUUID } from 'node:crypto';
import { importSigningPublicKey, importX25519PublicKey, verifyPrekey } from '@gossip/crypto';
import {
  MAX_ONE_TIME_PREKEYS_STORED,
  PREKEY_DEVICE_ID,
  type IdentityKey,
  type OneTimePrekey,
  type PrekeyBundle,
  type PrekeyStatus,
  type SignedPrekey,
  type UploadPrekeysRequest,
} from '@gossip/protocol';
import { isDuplicateKey } from '@gossip/store';
import type { AppContext } from './context.js';
import { ApiError } from './errors.js';
import type { UserDoc } from './store.js';

/** The identity key and signed prekey, on the user document. */
export interface PrekeyRecord {
  /** The account's key version whose signing key verified both signatures. */
  keyVersion: number;
  identityKey: IdentityKey;
  signedPrekey: SignedPrekey;
  updatedAt: Date;
}

/** One one-time prekey in the `prekeys` collection. */
export interface OneTimePrekeyDoc {
  /** `owner:id`, so an id is stored at most once per owner. */
  _id: string;
  owner: string;
  id: number;
  publicKey: string;
  keyVersion: number;
  /** The upload that stored it, so a refused upload removes exactly its own keys. */
  batch: string;
}

/** Candidates a fetch picks from at random, so concurrent fetches rarely race for one. */
const CLAIM_SPREAD = 8;
/** Claims tried before a fetch gives up on a one-time prekey (each miss is another's hit). */
const CLAIM_ATTEMPTS = 64;

function prekeyDocId(owner: string, id: number): string {
  return `${owner}:${id}`;
}

/** Whether `user` has an identity key and signed prekey valid under its current keys. */
function currentRecord(user: UserDoc): PrekeyRecord | undefined {
  return user.prekeys?.keyVersion === user.keyVersion ? user.prekeys : undefined;
}

async function requireX25519(what: string, publicKey: string): Promise<void> {
  try {
    await importX25519PublicKey(publicKey);
  } catch (err) {
    const why = err instanceof Error ? err.message : 'unreadable key';
    throw new ApiError('invalid_key', `The ${what} is not an X25519 public key: ${why}.`);
  }
}

/** What `username` has published (the answer of GET and PUT /v1/me/prekeys). */
export async function prekeyStatus(ctx: AppContext, user: UserDoc): Promise<PrekeyStatus> {
  const rec = currentRecord(user);
  const left = rec
    ? await ctx.c.prekeys.countDocuments({ owner: user._id, keyVersion: user.keyVersion })
    : 0;
  return {
    published: rec !== undefined,
    identityKey: rec?.identityKey.publicKey ?? null,
    signedPrekeyId: rec?.signedPrekey.id ?? null,
    signedPrekeyUpdatedAt: rec?.updatedAt.toISOString() ?? null,
    oneTimePrekeys: left,
    maxOneTimePrekeys: MAX_ONE_TIME_PREKEYS_STORED,
  };
}

/**
 * Checks and stores an upload (rate limited per user): all of it or, on any refusal, nothing. The one-time
 * prekeys go in first (tagged with this upload), then the identity key and signed prekey,
 * conditional on the key version they were checked against; a later step that fails
 * removes this upload's one-time prekeys again.
 */
export async function uploadPrekeys(
  ctx: AppContext,
  username: string,
  req: UploadPrekeysRequest,
): Promise<PrekeyStatus> {
  const { c, config, limiter } = ctx;
  // Counted before the key and signature checks, so refused uploads (which cost the key
  // imports) count too; a body the route's schema refused never gets here.
  await limiter.enforce('prekey_upload', username, config.limits.prekeyUploadPerUser);
  const user = await c.users.findOne({ _id: username });
  if (!user) throw new ApiError('invalid_token');
  const oneTime: OneTimePrekey[] = req.oneTimePrekeys ?? [];

  const ids = new Set<number>();
  for (const k of oneTime) {
    if (ids.has(k.id)) {
      throw new ApiError('prekey_id_taken', `One-time prekey id ${k.id} is repeated.`);
    }
    ids.add(k.id);
  }
  await requireX25519('identity key', req.identityKey.publicKey);
  await requireX25519(`signed prekey ${req.signedPrekey.id}`, req.signedPrekey.publicKey);
  for (const k of oneTime) await requireX25519(`one-time prekey ${k.id}`, k.publicKey);

  const signingKey = await importSigningPublicKey(user.keys.signingKey);
  const identityOk = await verifyPrekey(
    signingKey,
    { kind: 'identity', id: 0, publicKey: req.identityKey.publicKey },
    req.identityKey.signature,
  );
  if (!identityOk) {
    throw new ApiError(
      'invalid_prekey_signature',
      "The identity key's signature does not verify under your published signing key.",
    );
  }
  const signedOk = await verifyPrekey(
    signingKey,
    { kind: 'signed', id: req.signedPrekey.id, publicKey: req.signedPrekey.publicKey },
    req.signedPrekey.signature,
  );
  if (!signedOk) {
    throw new ApiError(
      'invalid_prekey_signature',
      "The signed prekey's signature does not verify under your published signing key.",
    );
  }

  const current = currentRecord(user);
  if (current && current.identityKey.publicKey !== req.identityKey.publicKey) {
    throw new ApiError('identity_key_conflict');
  }
  if (
    current?.signedPrekey.id === req.signedPrekey.id &&
    current.signedPrekey.publicKey !== req.signedPrekey.publicKey
  ) {
    throw new ApiError(
      'prekey_id_taken',
      `Signed prekey id ${req.signedPrekey.id} is the current one with another key.`,
    );
  }

  // One-time prekeys of earlier keys are never served again: they go first.
  await c.prekeys.deleteMany({ owner: username, keyVersion: { $ne: user.keyVersion } });
  const batch = randomUUID();
  if (oneTime.length > 0) {
    const taken = await c.prekeys
      .find(
        { _id: { $in: oneTime.map((k) => prekeyDocId(username, k.id)) } },
        { projection: { id: 1 } },
      )
      .toArray();
    if (taken.length > 0) {
      throw new ApiError(
        'prekey_id_taken',
        `One-time prekey ids already stored: ${taken.map((d) => d.id).join(', ')}.`,
      );
    }
    const held = await c.prekeys.countDocuments({ owner: username });
    if (held + oneTime.length > MAX_ONE_TIME_PREKEYS_STORED) {
      throw new ApiError(
        'prekey_limit_exceeded',
        `You hold ${held} one-time prekeys; at most ${MAX_ONE_TIME_PREKEYS_STORED}.`,
      );
    }
    try {
      await c.prekeys.insertMany(
        oneTime.map((k) => ({
          _id: prekeyDocId(username, k.id),
          owner: username,
          id: k.id,
          publicKey: k.publicKey,
          keyVersion: user.keyVersion,
          batch,
        })),
        { ordered: true },
      );
    } catch (err) {
      await c.prekeys.deleteMany({ owner: username, batch });
      if (isDuplicateKey(err)) {
        throw new ApiError('prekey_id_taken', 'A one-time prekey id was stored meanwhile.');
      }
      throw err;
    }
    // A concurrent upload may have passed the same check: the later count undoes this one.
    if ((await c.prekeys.countDocuments({ owner: username })) > MAX_ONE_TIME_PREKEYS_STORED) {
      await c.prekeys.deleteMany({ owner: username, batch });
      throw new ApiError('prekey_limit_exceeded');
    }
  }

  const record: PrekeyRecord = {
    keyVersion: user.keyVersion,
    identityKey: { publicKey: req.identityKey.publicKey, signature: req.identityKey.signature },
    signedPrekey: {
      id: req.signedPrekey.id,
      publicKey: req.signedPrekey.publicKey,
      signature: req.signedPrekey.signature,
    },
    updatedAt: new Date(ctx.now()),
  };
  // Conditional on what was checked: the same key version, and still no other identity
  // key under it (a concurrent upload or key change makes this match nothing).
  const updated = await c.users.findOneAndUpdate(
    {
      _id: username,
      keyVersion: user.keyVersion,
      $or: [
        { 'prekeys.keyVersion': { $ne: user.keyVersion } },
        { 'prekeys.identityKey.publicKey': req.identityKey.publicKey },
      ],
    },
    { $set: { prekeys: record } },
    { returnDocument: 'after' },
  );
  if (!updated) {
    await c.prekeys.deleteMany({ owner: username, batch });
    throw new ApiError(
      'identity_key_conflict',
      'Your keys or identity key changed meanwhile: fetch your status and upload again.',
    );
  }
  return prekeyStatus(ctx, updated);
}

/**
 * Takes one of `owner`'s one-time prekeys of `keyVersion` for good, or none when all are
 * handed out. Only the caller whose delete removed the document returns it.
 */
async function claimOneTimePrekey(
  ctx: AppContext,
  owner: string,
  keyVersion: number,
): Promise<OneTimePrekey | undefined> {
  for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
    const candidates = await ctx.c.prekeys
      .find({ owner, keyVersion }, { projection: { id: 1, publicKey: 1 } })
      .sort({ id: 1 })
      .limit(CLAIM_SPREAD)
      .toArray();
    const pick = candidates[Math.floor(Math.random() * candidates.length)];
    if (!pick) return undefined;
    const { deletedCount } = await ctx.c.prekeys.deleteOne({ _id: pick._id, owner });
    if (deletedCount === 1) return { id: pick.id, publicKey: pick.publicKey };
  }
  return undefined;
}

/**
 * `requester` fetches `username`'s bundle (rate limited per requester), taking one
 * one-time prekey with it when any is left.
 */
export async function fetchPrekeyBundle(
  ctx: AppContext,
  requester: string,
  username: string,
): Promise<PrekeyBundle> {
  const { c, config, limiter } = ctx;
  await limiter.enforce('prekey_bundle', requester, config.limits.prekeyBundlePerUser);
  const user = await c.users.findOne({ _id: username });
  if (!user) throw new ApiError('user_not_found');
  const rec = currentRecord(user);
  if (!rec) throw new ApiError('prekeys_not_found');
  const oneTimePrekey = await claimOneTimePrekey(ctx, username, user.keyVersion);
  const bundle: PrekeyBundle = {
    username,
    deviceId: PREKEY_DEVICE_ID,
    signingKey: user.keys.signingKey,
    wrappingKey: user.keys.wrappingKey,
    keyVersion: user.keyVersion,
    identityKey: { publicKey: rec.identityKey.publicKey, signature: rec.identityKey.signature },
    signedPrekey: {
      id: rec.signedPrekey.id,
      publicKey: rec.signedPrekey.publicKey,
      signature: rec.signedPrekey.signature,
    },
  };
  if (oneTimePrekey) bundle.oneTimePrekey = oneTimePrekey;
  return bundle;
}
