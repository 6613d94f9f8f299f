/**
 * v2 session setup: X3DH (Signal's Extended Triple Diffie-Hellman) against a prekey bundle,
 * with a second, independent component: a fresh 32-byte secret wrapped to the responder's
 * RSA-OAEP-3072 key (the hybrid shape of PQXDH, where ML-KEM takes that place).
 *
 *     DH1 = X25519(IK_A, SPK_B)   DH2 = X25519(EK_A, IK_B)   DH3 = X25519(EK_A, SPK_B)
 *     DH4 = X25519(EK_A, OPK_B)   (only when the bundle had a one-time prekey)
 *     SK  = HKDF-SHA-256(salt = 32 zero bytes,
 *                        IKM  = 0xFF * 32 || DH1 || DH2 || DH3 [|| DH4] || rsaSecret,
 *                        info = "gossip/x3dh/2", 32 bytes)
 *     AD  = encodeFields(["gossip/x3dh/ad", "2", A user, A device, IK_A raw, B user, B device, IK_B raw])
 *
 * rsaSecret travels RSA-OAEP-SHA-256 encrypted under the OAEP label
 * `encodeFields(["gossip/x3dh/rsa", "2", A user, A device, B user, B device, IK_A b64, EK_A b64])`.
 * Someone who breaks X25519 (computes every DH) still lacks rsaSecret; someone with the
 * RSA private key still lacks the DH outputs. Either alone derives a different SK.
 *
 * The initiator verifies the bundle's identity and signed-prekey signatures with the
 * responder's pinned Ed25519 key; the init header carries the initiator's own signed
 * identity key, which the responder verifies with the initiator's pinned Ed25519 key, so
 * both identity keys are tied to the keys users compare as safety numbers.
 */
import type { PrekeyBundle } from '@gossip/protocol';
import { concatBytes, encodeFields, fromBase64, toBase64, type Bytes } from '../bytes.js';
import { CryptoError } from '../errors.js';
import { hkdf } from './kdf.js';
import {
  exportX25519PublicKey,
  exportX25519PublicRaw,
  generateX25519KeyPair,
  importX25519PublicKey,
  isPrekeyId,
  verifyPrekey,
  x25519,
} from './prekeys.js';

const subtle = (): SubtleCrypto => globalThis.crypto.subtle;

/** HKDF info of the X3DH session key. */
export const X3DH_INFO = 'gossip/x3dh/2';
/** Length of the RSA-wrapped secret, in bytes. */
export const RSA_SECRET_BYTES = 32;

/**
 * The fields of the api's prekey bundle (`PrekeyBundle`, packages/protocol, the one
 * definition) that X3DH reads. The bundle's `signingKey` and `wrappingKey` are left out:
 * X3DH uses the pinned copies of those instead. `deviceId` is any device id here (the
 * api's is the literal `main` until accounts have several devices).
 */
export type X3dhBundle = Pick<
  PrekeyBundle,
  'username' | 'identityKey' | 'signedPrekey' | 'oneTimePrekey'
> & { deviceId: string };

/** A type error unless `T` can be given to X3DH as it is. */
type X3dhReadable<T extends X3dhBundle> = T;
/** Compile-time check: the api's answer goes to `initiateX3dh` as it is (tsc fails if it drifts). */
type _ApiPrekeyBundleFits = X3dhReadable<PrekeyBundle>;

/** What the responder needs, sent in the first messages of a session (body field `x`). */
export interface X3dhInit {
  /** Initiator's X25519 identity key, base64 raw. */
  ik: string;
  /** Initiator's signature of it (signPrekey, kind 'identity', id 0). */
  iks: string;
  /** Initiator's ephemeral X25519 key, base64 raw. */
  ek: string;
  /** Id of the responder's signed prekey used. */
  spk: number;
  /** Id of the responder's one-time prekey used, absent when the bundle had none. */
  opk?: number;
  /** rsaSecret, RSA-OAEP-SHA-256 encrypted to the responder (base64, 384 bytes for RSA-3072). */
  rsa: string;
}

/** A party of a session: account and device (sessions are per (peer, device)). */
export interface Party {
  username: string;
  deviceId: string;
}

export interface InitiateInput {
  self: Party & {
    /** The initiator's X25519 identity key pair. */
    identityKey: CryptoKeyPair;
    /** Its published signature (signPrekey kind 'identity', id 0). */
    identitySignature: string;
  };
  bundle: X3dhBundle;
  /** The responder's pinned Ed25519 key: the bundle's signatures must verify with it. */
  peerSigningKey: CryptoKey;
  /** The responder's pinned RSA-OAEP public key. */
  peerWrappingKey: CryptoKey;
  /** Known-answer tests only: a fixed ephemeral key pair and RSA secret. */
  ephemeral?: CryptoKeyPair;
  rsaSecret?: Uint8Array;
}

export interface X3dhResult {
  /** The 32-byte shared secret: the Double Ratchet's first root key. */
  sk: Bytes;
  /** The associated data every message of the session binds. */
  ad: Bytes;
}

export interface Initiated extends X3dhResult {
  init: X3dhInit;
  /** The responder's signed prekey: the initiator's first remote ratchet key. */
  peerSignedPrekey: CryptoKey;
}

export interface RespondInput {
  self: Party & {
    identityKey: CryptoKeyPair;
    /** The signed prekey pair whose id is `init.spk` (current or a recently rotated one). */
    signedPrekey: CryptoKeyPair;
    /** The one-time prekey pair whose id is `init.opk`; the caller deletes it after use. */
    oneTimePrekey?: CryptoKeyPair | undefined;
    /** The responder's RSA-OAEP private key. */
    wrappingPrivateKey: CryptoKey;
  };
  peer: Party;
  /** The initiator's pinned Ed25519 key: `init.iks` must verify with it. */
  peerSigningKey: CryptoKey;
  init: X3dhInit;
}

/** SK = HKDF(0^32, 0xFF^32 || dh... || rsaSecret, "gossip/x3dh/2"), 32 bytes. */
export async function deriveX3dhSecret(
  dhs: readonly Uint8Array[],
  rsaSecret: Uint8Array,
): Promise<Bytes> {
  if (dhs.length !== 3 && dhs.length !== 4)
    throw new CryptoError('bad_format', 'X3DH needs 3 or 4 DH outputs');
  if (rsaSecret.length !== RSA_SECRET_BYTES) {
    throw new CryptoError('bad_format', 'the RSA secret is 32 bytes');
  }
  const ikm = concatBytes(new Uint8Array(32).fill(0xff), ...dhs, rsaSecret);
  return hkdf(new Uint8Array(32), ikm, X3DH_INFO, 32);
}

/** AD = encodeFields(["gossip/x3dh/ad", "2", A user, A device, IK_A, B user, B device, IK_B]). */
export function x3dhAssociatedData(
  initiator: Party,
  initiatorIk: Uint8Array,
  responder: Party,
  responderIk: Uint8Array,
): Bytes {
  return encodeFields([
    'gossip/x3dh/ad',
    '2',
    initiator.username,
    initiator.deviceId,
    initiatorIk,
    responder.username,
    responder.deviceId,
    responderIk,
  ]);
}

function rsaLabel(initiator: Party, responder: Party, ik: string, ek: string): Bytes {
  return encodeFields([
    'gossip/x3dh/rsa',
    '2',
    initiator.username,
    initiator.deviceId,
    responder.username,
    responder.deviceId,
    ik,
    ek,
  ]);
}

/**
 * The initiator's side: verifies the bundle with the responder's pinned signing key (a bad
 * signature is `bad_signature` and nothing is derived), runs X3DH and wraps the RSA share.
 */
export async function initiateX3dh(input: InitiateInput): Promise<Initiated> {
  const { self, bundle } = input;
  if (!isPrekeyId(bundle.signedPrekey.id)) {
    throw new CryptoError('bad_format', 'signed prekey id out of range');
  }
  const idOk = await verifyPrekey(
    input.peerSigningKey,
    { kind: 'identity', id: 0, publicKey: bundle.identityKey.publicKey },
    bundle.identityKey.signature,
  );
  const spkOk = await verifyPrekey(
    input.peerSigningKey,
    { kind: 'signed', id: bundle.signedPrekey.id, publicKey: bundle.signedPrekey.publicKey },
    bundle.signedPrekey.signature,
  );
  if (!idOk || !spkOk) {
    throw new CryptoError(
      'bad_signature',
      `the prekey bundle's ${idOk ? 'signed prekey' : 'identity key'} signature does not verify with the pinned signing key`,
    );
  }
  const ikB = await importX25519PublicKey(bundle.identityKey.publicKey);
  const spkB = await importX25519PublicKey(bundle.signedPrekey.publicKey);
  const opk = bundle.oneTimePrekey;
  if (opk && !isPrekeyId(opk.id))
    throw new CryptoError('bad_format', 'one-time prekey id out of range');
  const opkB = opk ? await importX25519PublicKey(opk.publicKey) : undefined;

  const ek = input.ephemeral ?? (await generateX25519KeyPair());
  const dhs = [
    await x25519(self.identityKey.privateKey, spkB),
    await x25519(ek.privateKey, ikB),
    await x25519(ek.privateKey, spkB),
  ];
  if (opkB) dhs.push(await x25519(ek.privateKey, opkB));

  const rsaSecret = input.rsaSecret ?? globalThis.crypto.getRandomValues(new Uint8Array(32));
  const ikA = await exportX25519PublicKey(self.identityKey.publicKey);
  const ekA = await exportX25519PublicKey(ek.publicKey);
  const responder: Party = { username: bundle.username, deviceId: bundle.deviceId };
  const secretKey = await subtle().importKey('raw', new Uint8Array(rsaSecret), 'AES-GCM', true, [
    'encrypt',
  ]);
  let wrapped: Bytes;
  try {
    wrapped = new Uint8Array(
      await subtle().wrapKey('raw', secretKey, input.peerWrappingKey, {
        name: 'RSA-OAEP',
        label: rsaLabel(self, responder, ikA, ekA),
      }),
    );
  } catch (err) {
    throw new CryptoError('bad_key', 'the RSA share could not be wrapped to the peer', {
      cause: err,
    });
  }
  const sk = await deriveX3dhSecret(dhs, rsaSecret);
  const ad = x3dhAssociatedData(
    self,
    await exportX25519PublicRaw(self.identityKey.publicKey),
    responder,
    fromBase64(bundle.identityKey.publicKey),
  );
  const init: X3dhInit = {
    ik: ikA,
    iks: self.identitySignature,
    ek: ekA,
    spk: bundle.signedPrekey.id,
    ...(opk ? { opk: opk.id } : {}),
    rsa: toBase64(wrapped),
  };
  return { sk, ad, init, peerSignedPrekey: spkB };
}

/**
 * The responder's side: verifies the initiator's identity key with its pinned signing key,
 * unwraps the RSA share and runs X3DH. `bad_signature`, `unwrap_failed`, `bad_key` (the
 * one-time prekey named is not given: used already or never issued) or `bad_format`.
 */
export async function respondX3dh(input: RespondInput): Promise<X3dhResult> {
  const { self, peer, init } = input;
  const ok = await verifyPrekey(
    input.peerSigningKey,
    { kind: 'identity', id: 0, publicKey: init.ik },
    init.iks,
  );
  if (!ok) {
    throw new CryptoError(
      'bad_signature',
      "the initiator's identity key signature does not verify with its pinned signing key",
    );
  }
  if (init.opk !== undefined && !self.oneTimePrekey) {
    throw new CryptoError(
      'bad_key',
      'the session names a one-time prekey this device no longer has (used or never issued)',
    );
  }
  const ikA = await importX25519PublicKey(init.ik);
  const ekA = await importX25519PublicKey(init.ek);
  let rsaSecret: Bytes;
  try {
    const key = await subtle().unwrapKey(
      'raw',
      fromBase64(init.rsa),
      self.wrappingPrivateKey,
      { name: 'RSA-OAEP', label: rsaLabel(peer, self, init.ik, init.ek) },
      { name: 'AES-GCM', length: 256 },
      true,
      ['encrypt'],
    );
    rsaSecret = new Uint8Array(await subtle().exportKey('raw', key));
  } catch (err) {
    if (err instanceof CryptoError) throw err;
    throw new CryptoError('unwrap_failed', 'the RSA share of the session could not be unwrapped', {
      cause: err,
    });
  }
  const dhs = [
    await x25519(self.signedPrekey.privateKey, ikA),
    await x25519(self.identityKey.privateKey, ekA),
    await x25519(self.signedPrekey.privateKey, ekA),
  ];
  if (init.opk !== undefined && self.oneTimePrekey) {
    dhs.push(await x25519(self.oneTimePrekey.privateKey, ekA));
  }
  const sk = await deriveX3dhSecret(dhs, rsaSecret);
  const ad = x3dhAssociatedData(
    peer,
    fromBase64(init.ik),
    self,
    await exportX25519PublicRaw(self.identityKey.publicKey),
  );
  return { sk, ad };
}
