/**
 * v2 Double Ratchet (Signal's specification, section 3): X25519 on WebCrypto, the KDFs on
 * @noble/hashes (kdf.ts), AES-256-GCM through aead.ts (Node's OpenSSL cipher, else WebCrypto).
 *
 *     KDF_RK(rk, dh_out) = HKDF-SHA-256(salt = rk, IKM = dh_out, info = "gossip/ratchet/root/2", 64)
 *                          -> (new rk = bytes 0..31, chain key = bytes 32..63)
 *     KDF_CK(ck)         -> message key = HMAC-SHA-256(ck, 0x01), next ck = HMAC-SHA-256(ck, 0x02)
 *     message key        -> HKDF-SHA-256(salt = 32 zero bytes, IKM = mk, info = "gossip/ratchet/msg/2", 44)
 *                          -> AES-256-GCM key = bytes 0..31, nonce = bytes 32..43
 *     header (40 bytes)  =  ratchet public key (32) || PN (uint32 BE) || N (uint32 BE)
 *     AAD                =  encodeFields(["gossip/msg", "2", from, fromDevice, to, toDevice, id, AD, header])
 *
 * The state is a plain JSON-serialisable object (every key as base64 of its raw bytes), so
 * the SDK can persist it atomically. `ratchetEncrypt` and `ratchetDecrypt` never modify the
 * state they are given: they return the next state, and a failed decryption returns nothing,
 * so the caller commits a state only after a step succeeded.
 *
 * Skipped message keys are kept for at most `maxSkip` messages per chain jump (a longer jump
 * is `gap_too_large`), at most `maxSkipped` in all (the oldest dropped first) and at most
 * `maxAge` milliseconds. A used message key is deleted. A message whose key was used already,
 * or whose counter is behind and has no kept key, is `replayed`.
 */
import { bytesEqual, encodeFields, fromBase64, toBase64, utf8, type Bytes } from '../bytes.js';
import { CryptoError } from '../errors.js';
import { aesGcmOpen, aesGcmSeal } from './aead.js';
import { hkdfSync, hmacSha256Sync } from './kdf.js';
import {
  exportX25519PrivateRaw,
  exportX25519PublicRaw,
  generateX25519KeyPair,
  importX25519PrivateRaw,
  importX25519PublicRaw,
  x25519,
} from './prekeys.js';
import type { X3dhInit } from './x3dh.js';

export const RATCHET_ROOT_INFO = 'gossip/ratchet/root/2';
export const RATCHET_MSG_INFO = 'gossip/ratchet/msg/2';
/** Length of an encoded ratchet header in bytes. */
export const HEADER_BYTES = 40;
/** Most message keys one received message may make the session skip (per chain). */
export const MAX_SKIP = 1000;
/** Most skipped message keys a session keeps in all. */
export const MAX_SKIPPED_KEYS = 2000;
/** How long a skipped message key is kept, in milliseconds (30 days). */
export const MAX_SKIPPED_AGE_MS = 30 * 24 * 60 * 60 * 1000;
/** How many ended remote chains are remembered to tell a replay from garbage. */
const MAX_PREVIOUS_CHAINS = 16;
export const MAX_COUNTER = 2 ** 32 - 1;

/** A kept key of a message that has not arrived yet. */
export interface SkippedKey {
  /** The sender's ratchet public key of the chain (base64). */
  dh: string;
  n: number;
  /** The message key (base64): secret. */
  mk: string;
  /** When it was stored (ms since the epoch), for the maximum age. */
  at: number;
}

/** A session's Double Ratchet state: plain data, every field JSON-serialisable. */
export interface RatchetState {
  v: 2;
  /** X3DH associated data (base64). */
  ad: string;
  /** Root key (base64, 32 bytes). */
  rk: string;
  /** Own ratchet key pair: private and public raw bytes (base64). */
  dhs: { priv: string; pub: string };
  /** The peer's current ratchet public key (base64), null before the first message came. */
  dhr: string | null;
  /** Sending and receiving chain keys (base64), null until set up. */
  cks: string | null;
  ckr: string | null;
  ns: number;
  nr: number;
  pn: number;
  skipped: SkippedKey[];
  /** The peer's earlier ratchet keys (base64), newest last. */
  previous: string[];
  /** Initiator: the X3DH init header, sent with every message until the first reply decrypts. */
  init?: X3dhInit;
  /** Responder: the initiator's ephemeral key (base64) the session was accepted from. */
  ek?: string;
}

/** Who a message is from and to (account and device) and its id: bound into the AAD. */
export interface RatchetContext {
  from: string;
  fromDevice: string;
  to: string;
  toDevice: string;
  id: string;
}

export interface RatchetHeader {
  dh: Bytes;
  pn: number;
  n: number;
}

export interface DecryptOptions {
  /** @default Date.now() */
  now?: number;
  /** @default MAX_SKIP */
  maxSkip?: number;
  /** @default MAX_SKIPPED_AGE_MS */
  maxAge?: number;
  /** Known-answer tests only: the next own ratchet key pair. */
  nextKeyPair?: () => Promise<CryptoKeyPair>;
}

export interface Decrypted {
  state: RatchetState;
  plaintext: Bytes;
  /** Message keys this message made the session skip: messages not (yet) arrived. */
  skipped: number;
  /**
   * The message key this message was opened with (secret; 32 bytes). The state no longer
   * holds it; a caller may keep it until the message is handled, then it must forget it
   * (`ratchetOpen` opens the same message again with it).
   */
  messageKey: Bytes;
}

export interface Encrypted {
  state: RatchetState;
  header: Bytes;
  ciphertext: Bytes;
}

const RATCHET_ROOT_INFO_BYTES = utf8(RATCHET_ROOT_INFO);
const RATCHET_MSG_INFO_BYTES = utf8(RATCHET_MSG_INFO);
const CHAIN_MESSAGE = new Uint8Array([0x01]);
const CHAIN_NEXT = new Uint8Array([0x02]);
const ZERO_SALT = new Uint8Array(32);

/*
 * The KDFs run synchronously on @noble/hashes (kdf.ts); the exported async forms below are
 * the same functions for callers (tests, vectors) that await them.
 */
function kdfRootSync(rk: Uint8Array, dhOut: Uint8Array): [Bytes, Bytes] {
  const out = hkdfSync(rk, dhOut, RATCHET_ROOT_INFO_BYTES, 64);
  return [out.slice(0, 32), out.slice(32)];
}

function kdfChainSync(ck: Uint8Array): [Bytes, Bytes] {
  return [hmacSha256Sync(ck, CHAIN_MESSAGE), hmacSha256Sync(ck, CHAIN_NEXT)];
}

function messageKeyMaterialSync(mk: Uint8Array): { key: Bytes; nonce: Bytes } {
  const out = hkdfSync(ZERO_SALT, mk, RATCHET_MSG_INFO_BYTES, 44);
  return { key: out.slice(0, 32), nonce: out.slice(32) };
}

/** KDF_RK: (new root key, chain key) from the root key and a DH output. */
export async function kdfRoot(rk: Uint8Array, dhOut: Uint8Array): Promise<[Bytes, Bytes]> {
  return Promise.resolve(kdfRootSync(rk, dhOut));
}

/** KDF_CK: (message key, next chain key). */
export async function kdfChain(ck: Uint8Array): Promise<[Bytes, Bytes]> {
  return Promise.resolve(kdfChainSync(ck));
}

/** The AES-256-GCM key bytes and 12-byte nonce of a message key. */
export async function messageKeyMaterial(mk: Uint8Array): Promise<{ key: Bytes; nonce: Bytes }> {
  return Promise.resolve(messageKeyMaterialSync(mk));
}

/** The 40-byte header: dh (32) || pn (uint32 BE) || n (uint32 BE). */
export function encodeHeader(h: RatchetHeader): Bytes {
  if (h.dh.length !== 32) throw new CryptoError('bad_format', 'a ratchet key is 32 bytes');
  for (const c of [h.pn, h.n]) {
    if (!Number.isInteger(c) || c < 0 || c > MAX_COUNTER) {
      throw new CryptoError('bad_format', 'a ratchet counter is a 32-bit unsigned integer');
    }
  }
  const out = new Uint8Array(HEADER_BYTES);
  out.set(h.dh, 0);
  const view = new DataView(out.buffer);
  view.setUint32(32, h.pn, false);
  view.setUint32(36, h.n, false);
  return out;
}

/** Parses a 40-byte header; `bad_format` on any other length. */
export function decodeHeader(bytes: Uint8Array): RatchetHeader {
  if (!(bytes instanceof Uint8Array) || bytes.length !== HEADER_BYTES) {
    throw new CryptoError('bad_format', `a ratchet header is ${HEADER_BYTES} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { dh: bytes.slice(0, 32), pn: view.getUint32(32, false), n: view.getUint32(36, false) };
}

/** The AAD of a v2 message. */
export function messageAad(ctx: RatchetContext, ad: Uint8Array, header: Uint8Array): Bytes {
  return encodeFields([
    'gossip/msg',
    '2',
    ctx.from,
    ctx.fromDevice,
    ctx.to,
    ctx.toDevice,
    ctx.id,
    ad,
    header,
  ]);
}

async function pairBytes(pair: CryptoKeyPair): Promise<{ priv: string; pub: string }> {
  return {
    priv: toBase64(await exportX25519PrivateRaw(pair.privateKey)),
    pub: toBase64(await exportX25519PublicRaw(pair.publicKey)),
  };
}

async function dh(priv: string, pub: CryptoKey): Promise<Bytes> {
  const own = await importX25519PrivateRaw(fromBase64(priv));
  return x25519(own.privateKey, pub);
}

/**
 * RatchetInitAlice: the initiator's state after X3DH. `ownKeyPair` is for known-answer
 * tests only (a fresh pair is generated otherwise).
 */
export async function initInitiator(
  sk: Uint8Array,
  ad: Uint8Array,
  peerSignedPrekey: CryptoKey,
  ownKeyPair?: CryptoKeyPair,
): Promise<RatchetState> {
  const pair = ownKeyPair ?? (await generateX25519KeyPair());
  const dhr = await exportX25519PublicRaw(peerSignedPrekey);
  const [rk, cks] = kdfRootSync(sk, await x25519(pair.privateKey, peerSignedPrekey));
  return freshState(ad, rk, await pairBytes(pair), { dhr: toBase64(dhr), cks: toBase64(cks) });
}

/** A session's state before any message: counters zero, nothing skipped. */
function freshState(
  ad: Uint8Array,
  rk: Uint8Array,
  dhs: RatchetState['dhs'],
  peer: { dhr: string; cks: string } | null,
): RatchetState {
  return {
    v: 2,
    ad: toBase64(ad),
    rk: toBase64(rk),
    dhs,
    dhr: peer?.dhr ?? null,
    cks: peer?.cks ?? null,
    ckr: null,
    ns: 0,
    nr: 0,
    pn: 0,
    skipped: [],
    previous: [],
  };
}

/** RatchetInitBob: the responder's state after X3DH; its first ratchet key is its signed prekey. */
export async function initResponder(
  sk: Uint8Array,
  ad: Uint8Array,
  signedPrekey: CryptoKeyPair,
): Promise<RatchetState> {
  return freshState(ad, sk, await pairBytes(signedPrekey), null);
}

export function cloneState(s: RatchetState): RatchetState {
  return {
    ...s,
    ...(s.init ? { init: { ...s.init } } : {}),
    dhs: { ...s.dhs },
    skipped: s.skipped.map((k) => ({ ...k })),
    previous: [...s.previous],
  };
}

/** Encrypts one message; returns the next state (the given one is not modified). */
export async function ratchetEncrypt(
  state: RatchetState,
  plaintext: Uint8Array | string,
  ctx: RatchetContext,
): Promise<Encrypted> {
  if (state.cks === null) {
    throw new CryptoError(
      'bad_format',
      'this session cannot send yet: the responder sends after its first message arrived',
    );
  }
  if (state.ns >= MAX_COUNTER) throw new CryptoError('bad_format', 'sending chain exhausted');
  const s = cloneState(state);
  const [mk, ck] = kdfChainSync(fromBase64(s.cks as string));
  const header = encodeHeader({ dh: fromBase64(s.dhs.pub), pn: s.pn, n: s.ns });
  s.cks = toBase64(ck);
  s.ns += 1;
  const { key, nonce } = messageKeyMaterialSync(mk);
  const data = typeof plaintext === 'string' ? utf8(plaintext) : new Uint8Array(plaintext);
  const aad = messageAad(ctx, fromBase64(s.ad), header);
  const ciphertext = await aesGcmSeal(key, nonce, aad, data);
  return { state: s, header, ciphertext };
}

/** Opens a message with its message key (`Decrypted.messageKey`), as `ratchetDecrypt` did. */
export async function ratchetOpen(
  mk: Uint8Array,
  header: Uint8Array,
  ciphertext: Uint8Array,
  ctx: RatchetContext,
  ad: string,
): Promise<Bytes> {
  const { key, nonce } = messageKeyMaterialSync(mk);
  try {
    return await aesGcmOpen(key, nonce, messageAad(ctx, fromBase64(ad), header), ciphertext);
  } catch (err) {
    throw new CryptoError(
      'decrypt_failed',
      'v2 message does not decrypt: wrong session, wrong context or tampered',
      { cause: err },
    );
  }
}

/** Stores the keys of messages `s.nr .. until-1` of the receiving chain as skipped. */
function skipTo(s: RatchetState, until: number, now: number): number {
  if (s.nr >= until) return 0;
  if (s.ckr === null || s.dhr === null) return 0;
  let ck = fromBase64(s.ckr);
  let count = 0;
  while (s.nr < until) {
    const [mk, next] = kdfChainSync(ck);
    s.skipped.push({ dh: s.dhr, n: s.nr, mk: toBase64(mk), at: now });
    ck = next;
    s.nr += 1;
    count += 1;
  }
  s.ckr = toBase64(ck);
  return count;
}

function prune(s: RatchetState, now: number, maxAge: number): void {
  s.skipped = s.skipped.filter((k) => now - k.at <= maxAge);
  if (s.skipped.length > MAX_SKIPPED_KEYS) s.skipped = s.skipped.slice(-MAX_SKIPPED_KEYS);
}

function gap(missing: number, maxSkip: number): CryptoError {
  return new CryptoError(
    'gap_too_large',
    `${missing} messages of this session are missing, more than the ${maxSkip} it can skip; ` +
      'the session has to be set up again',
  );
}

/**
 * Decrypts one message (header from the body, ciphertext with its tag). Returns the next
 * state and the plaintext; the given state is not modified, whatever happens. Errors:
 * `replayed`, `gap_too_large`, `decrypt_failed`, `bad_format`, `bad_key`.
 */
export async function ratchetDecrypt(
  state: RatchetState,
  headerBytes: Uint8Array,
  ciphertext: Uint8Array,
  ctx: RatchetContext,
  opts: DecryptOptions = {},
): Promise<Decrypted> {
  const now = opts.now ?? Date.now();
  const maxSkip = opts.maxSkip ?? MAX_SKIP;
  const maxAge = opts.maxAge ?? MAX_SKIPPED_AGE_MS;
  const header = decodeHeader(headerBytes);
  const dhB64 = toBase64(header.dh);
  const s = cloneState(state);
  prune(s, now, maxAge);

  const kept = s.skipped.findIndex((k) => k.dh === dhB64 && k.n === header.n);
  if (kept >= 0) {
    const messageKey = fromBase64((s.skipped[kept] as SkippedKey).mk);
    const plaintext = await ratchetOpen(messageKey, headerBytes, ciphertext, ctx, s.ad);
    s.skipped.splice(kept, 1);
    return { state: s, plaintext, skipped: 0, messageKey };
  }

  const current = s.dhr !== null && bytesEqual(fromBase64(s.dhr), header.dh);
  if ((current && header.n < s.nr) || s.previous.includes(dhB64)) {
    throw new CryptoError(
      'replayed',
      'this v2 message was decrypted already (or its kept key expired): dropped',
    );
  }
  let skipped = 0;
  if (!current) {
    if (s.dhr !== null && s.ckr !== null && header.pn - s.nr > maxSkip) {
      throw gap(header.pn - s.nr, maxSkip);
    }
    if (header.n > maxSkip) throw gap(header.n, maxSkip);
    skipped += skipTo(s, header.pn, now);
    // DH ratchet step.
    if (s.dhr !== null) s.previous = [...s.previous, s.dhr].slice(-MAX_PREVIOUS_CHAINS);
    s.pn = s.ns;
    s.ns = 0;
    s.nr = 0;
    s.dhr = dhB64;
    const peer = await importX25519PublicRaw(header.dh);
    const [rk1, ckr] = kdfRootSync(fromBase64(s.rk), await dh(s.dhs.priv, peer));
    const next = await (opts.nextKeyPair ?? generateX25519KeyPair)();
    s.dhs = await pairBytes(next);
    const [rk2, cks] = kdfRootSync(rk1, await x25519(next.privateKey, peer));
    s.rk = toBase64(rk2);
    s.ckr = toBase64(ckr);
    s.cks = toBase64(cks);
  } else if (header.n - s.nr > maxSkip) {
    throw gap(header.n - s.nr, maxSkip);
  }
  skipped += skipTo(s, header.n, now);
  const [mk, ck] = kdfChainSync(fromBase64(s.ckr as string));
  const plaintext = await ratchetOpen(mk, headerBytes, ciphertext, ctx, s.ad);
  s.ckr = toBase64(ck);
  s.nr += 1;
  prune(s, now, maxAge);
  return { state: s, plaintext, skipped, messageKey: mk };
}
