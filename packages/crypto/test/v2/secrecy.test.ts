/**
 * Forward secrecy and break-in recovery, shown: every key a party's full stored state holds
 * or can derive (root, chain keys and a run of steps from each, kept message keys, the DH
 * ratchet with its private key) is tried on earlier ciphertexts; none opens them. The same
 * attack on a state taken before those messages were read does open them (the attack works).
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { fromBase64, fromUtf8 } from '../../src/bytes.js';
import { CryptoError } from '../../src/errors.js';
import { parseMessageBodyV2 } from '../../src/v2/body.js';
import { importX25519PrivateRaw, importX25519PublicRaw, x25519 } from '../../src/v2/prekeys.js';
import {
  decodeHeader,
  kdfChain,
  kdfRoot,
  messageAad,
  messageKeyMaterial,
  type RatchetContext,
  type RatchetState,
} from '../../src/v2/ratchet.js';
import {
  decryptV2,
  encryptV2,
  parseRatchetState,
  serializeRatchetState,
} from '../../src/v2/session.js';
import { connect, ctx, ids, makeParty, sendMany, type V2Party } from './helpers.js';

let a: V2Party;
let b: V2Party;
before(async () => {
  [a, b] = await Promise.all([makeParty('alice', 4), makeParty('bob', 4)]);
});

interface Captured {
  body: string;
  ctx: RatchetContext;
}

/** Every candidate message key derivable from a state (the attacker's best effort). */
async function candidateMessageKeys(s: RatchetState, captured: Captured[]): Promise<Uint8Array[]> {
  const STEPS = 12;
  const out: Uint8Array[] = [];
  const chains: Uint8Array[] = [];
  for (const k of [s.rk, s.cks, s.ckr]) if (k) chains.push(fromBase64(k));
  for (const k of s.skipped) out.push(fromBase64(k.mk));
  // The DH ratchet from the stored private key against every ratchet key seen on the wire.
  const own = await importX25519PrivateRaw(fromBase64(s.dhs.priv));
  for (const c of captured) {
    const h = decodeHeader(parseMessageBodyV2(c.body).header);
    const shared = await x25519(own.privateKey, await importX25519PublicRaw(h.dh));
    const [rk, ck] = await kdfRoot(fromBase64(s.rk), shared);
    chains.push(rk, ck, shared);
  }
  for (const start of chains) {
    out.push(start);
    let ck = start;
    for (let i = 0; i < STEPS; i++) {
      const [mk, next] = await kdfChain(ck);
      out.push(mk);
      ck = next;
    }
  }
  return out;
}

async function opens(mk: Uint8Array, c: Captured, ad: string): Promise<string | null> {
  const b = parseMessageBodyV2(c.body);
  const { key, nonce } = await messageKeyMaterial(mk);
  const k = await crypto.subtle.importKey('raw', key, 'AES-GCM', false, ['decrypt']);
  try {
    const pt = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: nonce, additionalData: messageAad(c.ctx, fromBase64(ad), b.header) },
      k,
      b.ciphertext,
    );
    return fromUtf8(new Uint8Array(pt));
  } catch {
    return null;
  }
}

/** How many captured messages the state's keys open, trying every candidate. */
async function attack(state: RatchetState, captured: Captured[]): Promise<number> {
  const keys = await candidateMessageKeys(state, captured);
  let opened = 0;
  for (const c of captured) {
    for (const mk of keys) {
      if ((await opens(mk, c, state.ad)) !== null) {
        opened += 1;
        break;
      }
    }
  }
  return opened;
}

test('forward secrecy: after the conversation goes on, the full state of either side opens no earlier message', async () => {
  let { alice, bob } = await connect(a, b);
  const early = await sendMany(alice, a, b, ids('early', 3));
  alice = early.state;
  const captured: Captured[] = early.sent;
  const bobBeforeReading = serializeRatchetState(bob);
  // Positive control: the attack opens them with Bob's state from before he read them.
  assert.equal(await attack(parseRatchetState(bobBeforeReading), captured), 3);
  for (const c of captured) bob = (await decryptV2(bob, c.body, c.ctx)).state;
  // The conversation goes on: a reply and an answer (one DH ratchet step each way).
  const r = await encryptV2(bob, 'reply', ctx(b, a, 'r1'));
  bob = r.state;
  alice = (await decryptV2(alice, r.body, ctx(b, a, 'r1'))).state;
  const n = await encryptV2(alice, 'later', ctx(a, b, 'later1'));
  alice = n.state;
  bob = (await decryptV2(bob, n.body, ctx(a, b, 'later1'))).state;

  for (const [who, state] of [
    ['bob', parseRatchetState(serializeRatchetState(bob))],
    ['alice', parseRatchetState(serializeRatchetState(alice))],
  ] as const) {
    assert.equal(await attack(state, captured), 0, `${who}'s stored state opens nothing earlier`);
  }
  for (const c of captured) {
    await assert.rejects(decryptV2(bob, c.body, c.ctx), (e) => e instanceof CryptoError);
  }
  // Even the very next message's chain is gone: the symmetric ratchet alone moved on.
  {
    const s = await connect(a, b);
    const c = ctx(a, b, 'x1');
    const e = await encryptV2(s.alice, 'x', c);
    const bobAfter = (await decryptV2(s.bob, e.body, c)).state;
    assert.equal(await attack(bobAfter, [{ body: e.body, ctx: c }]), 0);
  }
});

test('break-in recovery: a stolen state reads until both sides have sent once more, then nothing', async () => {
  let { alice, bob } = await connect(a, b);
  const r0 = await encryptV2(bob, 'r0', ctx(b, a, 'r0'));
  bob = r0.state;
  alice = (await decryptV2(alice, r0.body, ctx(b, a, 'r0'))).state;
  const stolen = serializeRatchetState(bob); // Eve copies Bob's whole state.

  // Alice sends: Eve's copy reads it (the compromise is real).
  const c1 = ctx(a, b, 'a1');
  const a1 = await encryptV2(alice, 'a1', c1);
  alice = a1.state;
  const eve = await decryptV2(parseRatchetState(stolen), a1.body, c1);
  assert.equal(fromUtf8(eve.plaintext), 'a1');
  bob = (await decryptV2(bob, a1.body, c1)).state;

  // Bob sends (a fresh ratchet key Eve does not have), Alice answers.
  const b1 = await encryptV2(bob, 'b1', ctx(b, a, 'b1'));
  bob = b1.state;
  alice = (await decryptV2(alice, b1.body, ctx(b, a, 'b1'))).state;
  const later = await sendMany(alice, a, b, ids('a', 2, 2));
  alice = later.state;
  const after: Captured[] = later.sent;
  for (const c of after) {
    // Eve's stolen copy, and her copy advanced by the message she read, both fail.
    for (const s of [parseRatchetState(stolen), eve.state]) {
      await assert.rejects(decryptV2(s, c.body, c.ctx), (e) => e instanceof CryptoError);
    }
    assert.equal(await attack(parseRatchetState(stolen), after), 0);
    assert.equal(await attack(eve.state, after), 0);
    bob = (await decryptV2(bob, c.body, c.ctx)).state; // Bob reads them.
  }
});
