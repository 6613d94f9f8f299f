/**
 * A micro benchmark of v2 for packages/bench to call (it reports, never asserts): the time
 * per session setup (X3DH both sides with the RSA share, and the first message), per
 * encryption and per decryption of a message of `bytes` bytes, in the same session.
 */
import { generateIdentityKeys } from '../keys.js';
import { exportX25519PublicKey, generateX25519KeyPair, signPrekey } from './prekeys.js';
import type { RatchetContext, RatchetState } from './ratchet.js';
import { acceptV2, decryptV2, encryptV2, startSession } from './session.js';

export interface BenchV2Options {
  /** Messages encrypted and decrypted. @default 200 */
  messages?: number;
  /** Sessions set up. @default 10 */
  sessions?: number;
  /** Plaintext size. @default 100 */
  bytes?: number;
}

export interface BenchV2Result {
  /** Mean milliseconds per operation. */
  setupMs: number;
  encryptMs: number;
  decryptMs: number;
  messages: number;
  sessions: number;
  bytes: number;
}

async function party(username: string) {
  const keys = await generateIdentityKeys();
  const identityKey = await generateX25519KeyPair();
  const signedPrekey = await generateX25519KeyPair();
  const sign = (kind: 'identity' | 'signed', id: number, publicKey: string) =>
    signPrekey(keys.signing.privateKey, { kind, id, publicKey });
  const ik = await exportX25519PublicKey(identityKey.publicKey);
  const spk = await exportX25519PublicKey(signedPrekey.publicKey);
  return {
    username,
    deviceId: 'main',
    keys,
    identityKey,
    signedPrekey,
    identitySignature: await sign('identity', 0, ik),
    bundle: {
      username,
      deviceId: 'main',
      identityKey: { publicKey: ik, signature: await sign('identity', 0, ik) },
      signedPrekey: { id: 1, publicKey: spk, signature: await sign('signed', 1, spk) },
    },
  };
}

/** Runs the benchmark (key generation, RSA-3072 included, is not timed). */
export async function benchV2(opts: BenchV2Options = {}): Promise<BenchV2Result> {
  const messages = opts.messages ?? 200;
  const sessions = opts.sessions ?? 10;
  const bytes = opts.bytes ?? 100;
  const [a, b] = await Promise.all([party('alice'), party('bob')]);
  const c = (id: string): RatchetContext => ({
    from: 'alice',
    fromDevice: 'main',
    to: 'bob',
    toDevice: 'main',
    id,
  });
  const plaintext = new Uint8Array(bytes).fill(0x61);
  let alice: RatchetState | undefined;
  let bob: RatchetState | undefined;
  const t0 = performance.now();
  for (let i = 0; i < sessions; i++) {
    const start = await startSession({
      self: { ...a, identitySignature: a.identitySignature },
      bundle: b.bundle,
      peerSigningKey: b.keys.signing.publicKey,
      peerWrappingKey: b.keys.wrapping.publicKey,
    });
    const first = await encryptV2(start, plaintext, c(`s${i}`));
    const got = await acceptV2(
      first.body,
      c(`s${i}`),
      {
        username: 'bob',
        deviceId: 'main',
        identityKey: b.identityKey,
        wrappingPrivateKey: b.keys.wrapping.privateKey,
        signedPrekey: () => b.signedPrekey,
        oneTimePrekey: () => undefined,
      },
      a.keys.signing.publicKey,
    );
    alice = first.state;
    bob = got.state;
  }
  const t1 = performance.now();
  const bodies: string[] = [];
  for (let i = 0; i < messages; i++) {
    const e = await encryptV2(alice as RatchetState, plaintext, c(`m${i}`));
    alice = e.state;
    bodies.push(e.body);
  }
  const t2 = performance.now();
  for (let i = 0; i < messages; i++) {
    bob = (await decryptV2(bob as RatchetState, bodies[i] as string, c(`m${i}`))).state;
  }
  const t3 = performance.now();
  return {
    setupMs: (t1 - t0) / sessions,
    encryptMs: (t2 - t1) / messages,
    decryptMs: (t3 - t2) / messages,
    messages,
    sessions,
    bytes,
  };
}
