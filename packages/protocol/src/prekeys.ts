/**
 * End-to-end encryption v2 (issue 16): the X25519 keys of the key directory. Each account
 * publishes, beside its Ed25519 signing key and RSA-OAEP wrapping key (PublicKeys), an
 * X25519 identity key and a signed X25519 prekey, both signed by the signing key
 * (packages/crypto `signPrekey`), and a batch of unsigned one-time X25519 prekeys. Anyone
 * signed in fetches a {@link PrekeyBundle} to start a session (X3DH); each fetch hands out
 * one one-time prekey at most, and the api deletes it as it does, so none is used twice.
 * The api only ever sees public keys.
 */
import { Type, type Static } from '@sinclair/typebox';
import { MAX_ONE_TIME_PREKEYS_PER_UPLOAD, MAX_ONE_TIME_PREKEYS_STORED } from './limits.js';
import { BASE64_PATTERN, IsoTime, PublicKeys, Username } from './primitives.js';

const strict = { additionalProperties: false } as const;

/**
 * An X25519 public key: its raw 32 bytes in standard base64, 44 characters (packages/crypto
 * exportX25519PublicKey). The schema takes any short base64 so that a key of the wrong
 * kind or size (an SPKI, 31 bytes) gets the api's clear `invalid_key`, not a pattern error.
 */
export const X25519PublicKey = Type.String({
  minLength: 4,
  maxLength: 64,
  pattern: BASE64_PATTERN,
  description: 'X25519 public key: the raw 32 bytes, standard base64 (44 characters).',
});

/** A prekey signature: 64 bytes of Ed25519, standard base64 (packages/crypto signPrekey). */
export const PrekeySignature = Type.String({
  minLength: 88,
  maxLength: 88,
  pattern: '^[A-Za-z0-9+/]{86}==$',
  description:
    "Ed25519 signature by the account's signing key over encodeFields(['gossip/prekey', " +
    "'2', kind, String(id), publicKey]), kind 'identity' (id 0) or 'signed'.",
});

/** Largest prekey id (ids are 0 < id < 2^31, unique per owner). */
export const MAX_PREKEY_ID = 2 ** 31 - 1;

export const PrekeyId = Type.Integer({
  minimum: 1,
  maximum: MAX_PREKEY_ID,
  description: 'Chosen by the owner, 1 to 2^31 - 1; a one-time prekey id is never reused.',
});

/** The signed X25519 identity key (statement kind 'identity', id 0). */
export const IdentityKey = Type.Object(
  { publicKey: X25519PublicKey, signature: PrekeySignature },
  { ...strict, description: "X25519 identity key, signed (kind 'identity', id 0)." },
);
export type IdentityKey = Static<typeof IdentityKey>;

/** The current signed prekey (statement kind 'signed', its id). */
export const SignedPrekey = Type.Object(
  { id: PrekeyId, publicKey: X25519PublicKey, signature: PrekeySignature },
  { ...strict, description: "Signed X25519 prekey (kind 'signed'), rotated by its owner." },
);
export type SignedPrekey = Static<typeof SignedPrekey>;

/** A one-time prekey: unsigned, as in X3DH. */
export const OneTimePrekey = Type.Object(
  { id: PrekeyId, publicKey: X25519PublicKey },
  { ...strict, description: 'One-time X25519 prekey (unsigned), handed out once.' },
);
export type OneTimePrekey = Static<typeof OneTimePrekey>;

/**
 * `PUT /v1/me/prekeys`: sets the identity key (the same one as before unless the account's
 * keys changed since it was set), replaces the signed prekey and adds one-time prekeys.
 * Checked as a whole: one bad key or signature and nothing is stored.
 */
export const UploadPrekeysRequest = Type.Object(
  {
    identityKey: IdentityKey,
    signedPrekey: SignedPrekey,
    oneTimePrekeys: Type.Optional(
      Type.Array(OneTimePrekey, {
        maxItems: MAX_ONE_TIME_PREKEYS_PER_UPLOAD,
        description:
          `At most ${MAX_ONE_TIME_PREKEYS_PER_UPLOAD} per upload, and at most ` +
          `${MAX_ONE_TIME_PREKEYS_STORED} stored; ids not already stored or repeated.`,
      }),
    ),
  },
  strict,
);
export type UploadPrekeysRequest = Static<typeof UploadPrekeysRequest>;

/** `GET /v1/me/prekeys` and the answer of the upload: what the caller has published. */
export const PrekeyStatus = Type.Object({
  published: Type.Boolean({
    description:
      'Whether a bundle can be served: an identity key and signed prekey uploaded under the ' +
      'current key version (a key change withdraws them until the next upload).',
  }),
  identityKey: Type.Union([X25519PublicKey, Type.Null()]),
  signedPrekeyId: Type.Union([PrekeyId, Type.Null()]),
  signedPrekeyUpdatedAt: Type.Union([IsoTime, Type.Null()], {
    description: 'When the current signed prekey was uploaded (for the rotation schedule).',
  }),
  oneTimePrekeys: Type.Integer({
    minimum: 0,
    description: 'One-time prekeys left to hand out; top up when it runs low.',
  }),
  maxOneTimePrekeys: Type.Integer({ description: 'The most one account may hold.' }),
});
export type PrekeyStatus = Static<typeof PrekeyStatus>;

/** Sessions are named by (peer, device) from the start; one device per account now. */
export const PREKEY_DEVICE_ID = 'main';

/**
 * `GET /v1/users/:username/prekey-bundle`: what an initiator needs for X3DH. Without
 * `oneTimePrekey` (all handed out) X3DH runs on the signed prekey alone.
 */
export const PrekeyBundle = Type.Object({
  username: Username,
  deviceId: Type.Literal(PREKEY_DEVICE_ID),
  signingKey: PublicKeys.properties.signingKey,
  wrappingKey: PublicKeys.properties.wrappingKey,
  keyVersion: Type.Integer({
    minimum: 1,
    description: 'The key version the prekeys were signed under (KeysResponse.keyVersion).',
  }),
  identityKey: IdentityKey,
  signedPrekey: SignedPrekey,
  oneTimePrekey: Type.Optional(OneTimePrekey),
});
export type PrekeyBundle = Static<typeof PrekeyBundle>;
