/** Two parties with v2 keys, a published bundle and a session, for the v2 tests. */
import { generateIdentityKeys, type IdentityKeys } from '../../src/keys.js';
import { exportX25519PublicKey, generateX25519KeyPair, signPrekey } from '../../src/v2/prekeys.js';
import { acceptV2, encryptV2, startSession, type ResponderKeys } from '../../src/v2/session.js';
import type { RatchetContext, RatchetState } from '../../src/v2/ratchet.js';
import type { X3dhBundle } from '../../src/v2/x3dh.js';
import { before } from 'node:test';

export interface V2Party {
  username: string;
  deviceId: string;
  keys: IdentityKeys;
  identityKey: CryptoKeyPair;
  identitySignature: string;
  signedPrekey: CryptoKeyPair;
  signedPrekeyId: number;
  oneTimePrekeys: Map<number, CryptoKeyPair>;
}

/**
 * Alice and Bob for one test file: made once in a `before` hook (each with `oneTime`
 * one-time prekeys), read through the returned object once the tests run.
 */
export function aliceAndBob(oneTime: number): { a: V2Party; b: V2Party } {
  const p = {} as { a: V2Party; b: V2Party };
  before(async () => {
    [p.a, p.b] = await Promise.all([makeParty('alice', oneTime), makeParty('bob', oneTime)]);
  });
  return p;
}

export async function makeParty(
  username: string,
  oneTime = 2,
  keys?: IdentityKeys,
): Promise<V2Party> {
  const k = keys ?? (await generateIdentityKeys());
  const identityKey = await generateX25519KeyPair();
  const identitySignature = await signPrekey(k.signing.privateKey, {
    kind: 'identity',
    id: 0,
    publicKey: await exportX25519PublicKey(identityKey.publicKey),
  });
  const oneTimePrekeys = new Map<number, CryptoKeyPair>();
  for (let i = 1; i <= oneTime; i++) oneTimePrekeys.set(100 + i, await generateX25519KeyPair());
  return {
    username,
    deviceId: 'main',
    keys: k,
    identityKey,
    identitySignature,
    signedPrekey: await generateX25519KeyPair(),
    signedPrekeyId: 7,
    oneTimePrekeys,
  };
}

/** The bundle the api would hand out for `p`, taking one one-time prekey (or none). */
export async function bundleOf(p: V2Party, withOneTime = true): Promise<X3dhBundle> {
  const spk = await exportX25519PublicKey(p.signedPrekey.publicKey);
  const first = withOneTime ? [...p.oneTimePrekeys.entries()][0] : undefined;
  return {
    username: p.username,
    deviceId: p.deviceId,
    identityKey: {
      publicKey: await exportX25519PublicKey(p.identityKey.publicKey),
      signature: p.identitySignature,
    },
    signedPrekey: {
      id: p.signedPrekeyId,
      publicKey: spk,
      signature: await signPrekey(p.keys.signing.privateKey, {
        kind: 'signed',
        id: p.signedPrekeyId,
        publicKey: spk,
      }),
    },
    ...(first
      ? {
          oneTimePrekey: {
            id: first[0],
            publicKey: await exportX25519PublicKey(first[1].publicKey),
          },
        }
      : {}),
  };
}

export function responderKeys(p: V2Party): ResponderKeys {
  return {
    username: p.username,
    deviceId: p.deviceId,
    identityKey: p.identityKey,
    wrappingPrivateKey: p.keys.wrapping.privateKey,
    signedPrekey: (id) => (id === p.signedPrekeyId ? p.signedPrekey : undefined),
    oneTimePrekey: (id) => p.oneTimePrekeys.get(id),
  };
}

export function ctx(from: V2Party, to: V2Party, id: string): RatchetContext {
  return {
    from: from.username,
    fromDevice: from.deviceId,
    to: to.username,
    toDevice: to.deviceId,
    id,
  };
}

export async function initiate(a: V2Party, b: V2Party, withOneTime = true): Promise<RatchetState> {
  return startSession({
    self: {
      username: a.username,
      deviceId: a.deviceId,
      identityKey: a.identityKey,
      identitySignature: a.identitySignature,
    },
    bundle: await bundleOf(b, withOneTime),
    peerSigningKey: b.keys.signing.publicKey,
    peerWrappingKey: b.keys.wrapping.publicKey,
  });
}

/** Alice starts a session and sends "hello"; Bob accepts it. Both states after that. */
export async function connect(
  a: V2Party,
  b: V2Party,
  withOneTime = true,
): Promise<{ alice: RatchetState; bob: RatchetState; firstBody: string }> {
  const start = await initiate(a, b, withOneTime);
  const sent = await encryptV2(start, 'hello', ctx(a, b, 'm0'));
  const got = await acceptV2(
    sent.body,
    ctx(a, b, 'm0'),
    responderKeys(b),
    a.keys.signing.publicKey,
  );
  if (got.oneTimePrekeyId !== undefined) b.oneTimePrekeys.delete(got.oneTimePrekeyId);
  return { alice: sent.state, bob: got.state, firstBody: sent.body };
}

export interface Sent {
  id: string;
  body: string;
  ctx: RatchetContext;
}

/** `from` sends one message per id (the text is the id), in order; returns the state after. */
export async function sendMany(
  state: RatchetState,
  from: V2Party,
  to: V2Party,
  ids: string[],
): Promise<{ state: RatchetState; sent: Sent[] }> {
  const sent: Sent[] = [];
  for (const id of ids) {
    const c = ctx(from, to, id);
    const e = await encryptV2(state, id, c);
    state = e.state;
    sent.push({ id, body: e.body, ctx: c });
  }
  return { state, sent };
}

/** The ids prefix1 .. prefixN. */
export const ids = (prefix: string, n: number, from = 1): string[] =>
  Array.from({ length: n }, (_, i) => `${prefix}${from + i}`);

/** mulberry32: a small seeded PRNG, so a failing random test repeats. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
