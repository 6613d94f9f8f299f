/**
 * Known-answer vectors of every v2 derivation, computed from fixed private keys, and the
 * checker that recomputes them: `checkVectors(json)` runs the same derivations (X3DH to SK
 * and AD, the first root step, chain steps, message keys and nonces, and four messages of a
 * conversation with fixed ratchet keys) and lists every output that differs. The fixture is
 * packages/crypto/test/v2/vectors.json; the same call runs in a browser through the bundle.
 */
import { fromBase64, fromHex, fromUtf8, toHex, utf8 } from '../bytes.js';
import { importX25519PrivateRaw, exportX25519PublicRaw, x25519 } from './prekeys.js';
import {
  initInitiator,
  initResponder,
  kdfChain,
  messageKeyMaterial,
  ratchetDecrypt,
  ratchetEncrypt,
  type RatchetState,
} from './ratchet.js';
import { deriveX3dhSecret, x3dhAssociatedData, type Party } from './x3dh.js';

export interface X3dhVectorInputs {
  name: string;
  initiator: Party;
  responder: Party;
  /** Private keys (hex, 32 bytes). */
  ikA: string;
  ekA: string;
  ikB: string;
  spkB: string;
  opkB?: string;
  /** The RSA share (hex, 32 bytes): RSA-OAEP itself is randomised, so only its input is fixed. */
  rsaSecret: string;
}

export interface RatchetVectorInputs {
  /** Which x3dh case's SK and AD start the ratchet. */
  x3dh: string;
  /** Alice's first ratchet private key, then her next; Bob's next (his first is SPK_B). */
  aliceRatchet: string[];
  bobRatchet: string[];
  /** Messages in order: sender ('alice' | 'bob'), id, UTF-8 plaintext. */
  messages: { from: 'alice' | 'bob'; id: string; text: string }[];
  /** How many chain steps of Alice's first sending chain to list. */
  chainSteps: number;
}

export interface VectorInputs {
  x3dh: X3dhVectorInputs[];
  ratchet: RatchetVectorInputs;
}

export type VectorOutputs = Record<string, string>;

export interface Vectors {
  description: string;
  inputs: VectorInputs;
  /** Every derived value, hex, by a dotted name. */
  outputs: VectorOutputs;
}

async function pair(hex: string): Promise<CryptoKeyPair> {
  return importX25519PrivateRaw(fromHex(hex));
}

/** Computes every output named in the fixture from its inputs. */
export async function computeVectors(inputs: VectorInputs): Promise<VectorOutputs> {
  const out: VectorOutputs = {};
  const sessions = new Map<string, { sk: Uint8Array; ad: Uint8Array; spkB: CryptoKeyPair }>();
  for (const c of inputs.x3dh) {
    const p = `x3dh.${c.name}`;
    const ikA = await pair(c.ikA);
    const ekA = await pair(c.ekA);
    const ikB = await pair(c.ikB);
    const spkB = await pair(c.spkB);
    const opkB = c.opkB ? await pair(c.opkB) : undefined;
    for (const [k, v] of [
      ['ikA', ikA],
      ['ekA', ekA],
      ['ikB', ikB],
      ['spkB', spkB],
      ['opkB', opkB],
    ] as const) {
      if (v) out[`${p}.${k}.public`] = toHex(await exportX25519PublicRaw(v.publicKey));
    }
    const dhs = [
      await x25519(ikA.privateKey, spkB.publicKey),
      await x25519(ekA.privateKey, ikB.publicKey),
      await x25519(ekA.privateKey, spkB.publicKey),
    ];
    if (opkB) dhs.push(await x25519(ekA.privateKey, opkB.publicKey));
    dhs.forEach((d, i) => (out[`${p}.dh${i + 1}`] = toHex(d)));
    // The responder's side gives the same DH outputs.
    const back = [
      await x25519(spkB.privateKey, ikA.publicKey),
      await x25519(ikB.privateKey, ekA.publicKey),
      await x25519(spkB.privateKey, ekA.publicKey),
    ];
    if (opkB) back.push(await x25519(opkB.privateKey, ekA.publicKey));
    back.forEach((d, i) => (out[`${p}.responder.dh${i + 1}`] = toHex(d)));
    const sk = await deriveX3dhSecret(dhs, fromHex(c.rsaSecret));
    const ad = x3dhAssociatedData(
      c.initiator,
      await exportX25519PublicRaw(ikA.publicKey),
      c.responder,
      await exportX25519PublicRaw(ikB.publicKey),
    );
    out[`${p}.sk`] = toHex(sk);
    out[`${p}.ad`] = toHex(ad);
    sessions.set(c.name, { sk, ad, spkB });
  }

  const r = inputs.ratchet;
  const s = sessions.get(r.x3dh);
  if (!s) throw new Error(`vectors: no x3dh case ${r.x3dh}`);
  const [a0, ...aNext] = await Promise.all(r.aliceRatchet.map(pair));
  const bNext = await Promise.all(r.bobRatchet.map(pair));
  let alice = await initInitiator(s.sk, s.ad, s.spkB.publicKey, a0);
  let bob = await initResponder(s.sk, s.ad, s.spkB);
  out['ratchet.alice.init.rk'] = b64hex(alice.rk);
  out['ratchet.alice.init.cks'] = b64hex(alice.cks as string);
  let ck = fromHex(b64hex(alice.cks as string));
  for (let i = 0; i < r.chainSteps; i++) {
    const [mk, next] = await kdfChain(ck);
    const m = await messageKeyMaterial(mk);
    out[`ratchet.chain.${i}.mk`] = toHex(mk);
    out[`ratchet.chain.${i}.ck`] = toHex(next);
    out[`ratchet.chain.${i}.aesKey`] = toHex(m.key);
    out[`ratchet.chain.${i}.nonce`] = toHex(m.nonce);
    ck = next;
  }
  const queues = { alice: [...aNext], bob: [...bNext] };
  const parties: Record<'alice' | 'bob', Party> = {
    alice: inputs.x3dh.find((c) => c.name === r.x3dh)?.initiator as Party,
    bob: inputs.x3dh.find((c) => c.name === r.x3dh)?.responder as Party,
  };
  for (const m of r.messages) {
    const to = m.from === 'alice' ? 'bob' : 'alice';
    const ctx = {
      from: parties[m.from].username,
      fromDevice: parties[m.from].deviceId,
      to: parties[to].username,
      toDevice: parties[to].deviceId,
      id: m.id,
    };
    const sender = m.from === 'alice' ? alice : bob;
    const e = await ratchetEncrypt(sender, utf8(m.text), ctx);
    const receiver = to === 'alice' ? alice : bob;
    const queue = queues[to];
    const d = await ratchetDecrypt(receiver, e.header, e.ciphertext, ctx, {
      nextKeyPair: async () => {
        const k = queue.shift();
        if (!k) throw new Error('vectors: out of fixed ratchet keys');
        return k;
      },
    });
    if (fromUtf8(d.plaintext) !== m.text) throw new Error(`vectors: ${m.id} did not round-trip`);
    const set = (who: 'alice' | 'bob', st: RatchetState): void => {
      if (who === 'alice') alice = st;
      else bob = st;
    };
    set(m.from, e.state);
    set(to, d.state);
    const p = `ratchet.message.${m.id}`;
    out[`${p}.header`] = toHex(e.header);
    out[`${p}.ciphertext`] = toHex(e.ciphertext);
    out[`${p}.receiver.rk`] = b64hex(d.state.rk);
    out[`${p}.receiver.ckr`] = b64hex(d.state.ckr as string);
    out[`${p}.receiver.cks`] = b64hex(d.state.cks as string);
  }
  return out;
}

function b64hex(b64: string): string {
  return toHex(fromBase64(b64));
}

/**
 * Recomputes the fixture's outputs and lists the names whose value differs or is missing
 * (empty when this implementation agrees byte for byte).
 */
export async function checkVectors(v: Vectors): Promise<string[]> {
  const got = await computeVectors(v.inputs);
  const names = new Set([...Object.keys(v.outputs), ...Object.keys(got)]);
  return [...names].filter((n) => got[n] !== v.outputs[n]).sort();
}
