/**
 * v2 sessions end to end: X3DH to start one, the Double Ratchet for every message, and the
 * v2 body around it. A session is named by (peer, peer device) and its whole state is one
 * {@link RatchetState}: the caller stores the state each call returns, atomically, and only
 * then acts on the result (sends the body, shows the plaintext, acks the delivery).
 */
import { fromBase64, type Bytes } from '../bytes.js';
import { CryptoError } from '../errors.js';
import {
  encodeMessageBodyV2,
  parseMessageBodyV2,
  parseX3dhInit,
  type MessageBodyV2,
} from './body.js';
import {
  cloneState,
  initInitiator,
  initResponder,
  MAX_COUNTER,
  ratchetDecrypt,
  ratchetEncrypt,
  type DecryptOptions,
  type Decrypted,
  type RatchetContext,
  type RatchetState,
} from './ratchet.js';
import { initiateX3dh, respondX3dh, type InitiateInput, type RespondInput } from './x3dh.js';

/** Starts a session as the initiator (X3DH against the peer's bundle); nothing is sent yet. */
export async function startSession(
  input: InitiateInput,
  ownRatchetKey?: CryptoKeyPair,
): Promise<RatchetState> {
  const x = await initiateX3dh(input);
  const state = await initInitiator(x.sk, x.ad, x.peerSignedPrekey, ownRatchetKey);
  return { ...state, init: x.init };
}

/** Encrypts a message into a v2 body; returns the body and the state to store before sending. */
export async function encryptV2(
  state: RatchetState,
  plaintext: Uint8Array | string,
  ctx: RatchetContext,
): Promise<{ body: string; state: RatchetState }> {
  const e = await ratchetEncrypt(state, plaintext, ctx);
  const body = encodeMessageBodyV2({
    sd: ctx.fromDevice,
    rd: ctx.toDevice,
    header: e.header,
    ciphertext: e.ciphertext,
    ...(state.init ? { init: state.init } : {}),
  });
  return { body, state: e.state };
}

function checkDevices(b: { sd: string; rd: string }, ctx: RatchetContext): void {
  if (b.sd !== ctx.fromDevice || b.rd !== ctx.toDevice) {
    throw new CryptoError(
      'context_mismatch',
      'v2 body is addressed from/to other devices than this session',
    );
  }
}

/**
 * Whether a v2 body starts a session other than `state` (it carries an X3DH init with an
 * ephemeral key this session was not accepted from): the receiver then accepts it as new.
 */
export function startsNewSession(state: RatchetState | undefined, body: string): boolean {
  const b = parseMessageBodyV2(body);
  if (!b.init) return false;
  return state === undefined || state.init !== undefined || state.ek !== b.init.ek;
}

/**
 * A body as received, or as `parseMessageBodyV2` returned it (a caller that parsed it
 * already to route it need not parse it again).
 */
export type V2BodyInput = string | MessageBodyV2;

const parsed = (body: V2BodyInput): MessageBodyV2 =>
  typeof body === 'string' ? parseMessageBodyV2(body) : body;

/** Decrypts a v2 body with an existing session. The given state is never modified. */
export async function decryptV2(
  state: RatchetState,
  body: V2BodyInput,
  ctx: RatchetContext,
  opts?: DecryptOptions,
): Promise<Decrypted> {
  const b = parsed(body);
  checkDevices(b, ctx);
  const d = await ratchetDecrypt(state, b.header, b.ciphertext, ctx, opts);
  // The initiator's first decrypted reply proves the responder has the session: stop sending x.
  if (d.state.init) delete d.state.init;
  return d;
}

/** The responder's keys for accepting sessions. */
export type ResponderKeys = Omit<RespondInput['self'], 'signedPrekey' | 'oneTimePrekey'> & {
  /** Looks up the signed prekey pair by id (current or recently rotated). */
  signedPrekey: (id: number) => CryptoKeyPair | undefined | Promise<CryptoKeyPair | undefined>;
  /** Looks up an unused one-time prekey pair by id; the caller deletes it once this succeeded. */
  oneTimePrekey: (id: number) => CryptoKeyPair | undefined | Promise<CryptoKeyPair | undefined>;
};

/**
 * Accepts a session from a body carrying an X3DH init, and decrypts it. Returns the new
 * session state (store it, then delete the one-time prekey named by the body).
 */
export async function acceptV2(
  body: V2BodyInput,
  ctx: RatchetContext,
  keys: ResponderKeys,
  peerSigningKey: CryptoKey,
  opts?: DecryptOptions,
): Promise<Decrypted & { oneTimePrekeyId?: number }> {
  const b = parsed(body);
  checkDevices(b, ctx);
  if (!b.init) throw new CryptoError('bad_format', 'v2 body does not start a session (no x)');
  const spk = await keys.signedPrekey(b.init.spk);
  if (!spk) throw new CryptoError('bad_key', `signed prekey ${b.init.spk} is not known (expired?)`);
  const opk = b.init.opk !== undefined ? await keys.oneTimePrekey(b.init.opk) : undefined;
  const x = await respondX3dh({
    self: { ...keys, signedPrekey: spk, oneTimePrekey: opk },
    peer: { username: ctx.from, deviceId: ctx.fromDevice },
    peerSigningKey,
    init: b.init,
  });
  const fresh = await initResponder(x.sk, x.ad, spk);
  const d = await ratchetDecrypt({ ...fresh, ek: b.init.ek }, b.header, b.ciphertext, ctx, opts);
  return { ...d, ...(b.init.opk !== undefined ? { oneTimePrekeyId: b.init.opk } : {}) };
}

/** The X3DH associated data of a session (for the safety-number screen or diagnostics). */
export function sessionAssociatedData(state: RatchetState): Bytes {
  return fromBase64(state.ad);
}
/** JSON text of a state, for the local key store (it holds secret keys: never send it). */
export function serializeRatchetState(state: RatchetState): string {
  return JSON.stringify(state);
}

const B64_32 = (v: unknown): boolean => {
  if (typeof v !== 'string' || v.length !== 44) return false;
  try {
    return fromBase64(v).length === 32;
  } catch {
    return false;
  }
};
const COUNTER = (v: unknown): boolean =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_COUNTER;

/** Parses a stored state strictly; `bad_format` on anything that is not one. */
export function parseRatchetState(json: string): RatchetState {
  let o: unknown;
  try {
    o = JSON.parse(json);
  } catch (err) {
    throw new CryptoError('bad_format', 'ratchet state is not JSON', { cause: err });
  }
  const s = o as Partial<RatchetState> | null;
  const ok =
    typeof s === 'object' &&
    s !== null &&
    s.v === 2 &&
    typeof s.ad === 'string' &&
    B64_32(s.rk) &&
    typeof s.dhs === 'object' &&
    s.dhs !== null &&
    B64_32(s.dhs.priv) &&
    B64_32(s.dhs.pub) &&
    (s.dhr === null || B64_32(s.dhr)) &&
    (s.cks === null || B64_32(s.cks)) &&
    (s.ckr === null || B64_32(s.ckr)) &&
    COUNTER(s.ns) &&
    COUNTER(s.nr) &&
    COUNTER(s.pn) &&
    Array.isArray(s.previous) &&
    s.previous.every(B64_32) &&
    Array.isArray(s.skipped) &&
    s.skipped.every(
      (k) =>
        typeof k === 'object' &&
        k !== null &&
        B64_32(k.dh) &&
        COUNTER(k.n) &&
        B64_32(k.mk) &&
        typeof k.at === 'number' &&
        Number.isFinite(k.at),
    );
  if (!ok) throw new CryptoError('bad_format', 'not a v2 ratchet state');
  fromBase64(s.ad as string);
  const state = cloneState(s as RatchetState);
  if (s.init !== undefined) state.init = parseX3dhInit(s.init);
  if (s.ek !== undefined && !B64_32(s.ek))
    throw new CryptoError('bad_format', 'not a v2 ratchet state');
  return state;
}
