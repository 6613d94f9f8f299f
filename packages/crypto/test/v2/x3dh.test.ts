import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { fromBase64, fromUtf8, toBase64, toHex } from '../../src/bytes.js';
import { CryptoError } from '../../src/errors.js';
import { generateSigningKeyPair } from '../../src/keys.js';
import { parseMessageBodyV2 } from '../../src/v2/body.js';
import {
  exportX25519PublicKey,
  importX25519PublicKey,
  signPrekey,
  x25519,
} from '../../src/v2/prekeys.js';
import { initInitiator, initResponder, ratchetDecrypt } from '../../src/v2/ratchet.js';
import { acceptV2, decryptV2, encryptV2 } from '../../src/v2/session.js';
import {
  deriveX3dhSecret,
  initiateX3dh,
  respondX3dh,
  type InitiateInput,
  type X3dhInit,
} from '../../src/v2/x3dh.js';
import { bundleOf, connect, ctx, makeParty, responderKeys, type V2Party } from './helpers.js';

const isCode = (code: string) => (e: unknown) => e instanceof CryptoError && e.code === code;

let alice: V2Party;
let bob: V2Party;
before(async () => {
  [alice, bob] = await Promise.all([makeParty('alice', 4), makeParty('bob', 4)]);
});

async function initiateInput(b = bob, withOneTime = true): Promise<InitiateInput> {
  return {
    self: {
      username: alice.username,
      deviceId: alice.deviceId,
      identityKey: alice.identityKey,
      identitySignature: alice.identitySignature,
    },
    bundle: await bundleOf(b, withOneTime),
    peerSigningKey: b.keys.signing.publicKey,
    peerWrappingKey: b.keys.wrapping.publicKey,
  };
}

function respondInput(init: X3dhInit, opk = true) {
  return {
    self: {
      username: bob.username,
      deviceId: bob.deviceId,
      identityKey: bob.identityKey,
      signedPrekey: bob.signedPrekey,
      oneTimePrekey: opk && init.opk !== undefined ? bob.oneTimePrekeys.get(init.opk) : undefined,
      wrappingPrivateKey: bob.keys.wrapping.privateKey,
    },
    peer: { username: alice.username, deviceId: alice.deviceId },
    peerSigningKey: alice.keys.signing.publicKey,
    init,
  };
}

for (const withOneTime of [true, false]) {
  test(`X3DH ${withOneTime ? 'with' : 'without'} a one-time prekey: both sides derive the same SK and AD, and talk`, async () => {
    const a = await initiateX3dh(await initiateInput(bob, withOneTime));
    assert.equal(a.init.opk !== undefined, withOneTime);
    assert.equal(fromBase64(a.init.rsa).length, 384, 'RSA-3072 OAEP ciphertext');
    const b = await respondX3dh(respondInput(a.init));
    assert.equal(a.sk.length, 32);
    assert.equal(toHex(a.sk), toHex(b.sk));
    assert.equal(toHex(a.ad), toHex(b.ad));

    const fresh = await makeParty('bob', 1, bob.keys);
    const s = await connect(alice, fresh, withOneTime);
    assert.equal(
      fresh.oneTimePrekeys.size,
      withOneTime ? 0 : 1,
      'the used one-time prekey is deleted',
    );
    const reply = await encryptV2(s.bob, 'hi', ctx(fresh, alice, 'r1'));
    assert.equal(parseMessageBodyV2(reply.body).init, undefined, 'the responder sends no x');
    const got = await decryptV2(s.alice, reply.body, ctx(fresh, alice, 'r1'));
    assert.equal(fromUtf8(got.plaintext), 'hi');
  });
}

test('the initiator refuses a bundle whose signatures do not verify with the pinned signing key', async () => {
  const good = await initiateInput();
  const mallory = await generateSigningKeyPair();
  const spk = good.bundle.signedPrekey;
  const forgedSpk = await signPrekey(mallory.privateKey, {
    kind: 'signed',
    id: spk.id,
    publicKey: spk.publicKey,
  });
  const otherKey = await exportX25519PublicKey(alice.identityKey.publicKey);
  const cases: [string, InitiateInput][] = [
    [
      'bundle signed by someone else (pinned key differs)',
      { ...good, peerSigningKey: mallory.publicKey },
    ],
    [
      'signed prekey signature by another key',
      { ...good, bundle: { ...good.bundle, signedPrekey: { ...spk, signature: forgedSpk } } },
    ],
    [
      'signed prekey swapped',
      { ...good, bundle: { ...good.bundle, signedPrekey: { ...spk, publicKey: otherKey } } },
    ],
    [
      'signed prekey id changed',
      { ...good, bundle: { ...good.bundle, signedPrekey: { ...spk, id: spk.id + 1 } } },
    ],
    [
      'identity key swapped',
      {
        ...good,
        bundle: {
          ...good.bundle,
          identityKey: { ...good.bundle.identityKey, publicKey: otherKey },
        },
      },
    ],
    [
      'identity signature used for the signed prekey',
      {
        ...good,
        bundle: {
          ...good.bundle,
          signedPrekey: { ...spk, signature: good.bundle.identityKey.signature },
        },
      },
    ],
  ];
  for (const [name, input] of cases) {
    await assert.rejects(initiateX3dh(input), isCode('bad_signature'), name);
  }
});

test('the responder refuses a forged initiator identity, an unknown one-time prekey and a tampered RSA share', async () => {
  const a = await initiateX3dh(await initiateInput());
  const mallory = await generateSigningKeyPair();
  await assert.rejects(
    respondX3dh({ ...respondInput(a.init), peerSigningKey: mallory.publicKey }),
    isCode('bad_signature'),
  );
  await assert.rejects(respondX3dh(respondInput(a.init, false)), isCode('bad_key'));
  const rsa = fromBase64(a.init.rsa);
  rsa[5] = (rsa[5] as number) ^ 1;
  await assert.rejects(
    respondX3dh(respondInput({ ...a.init, rsa: toBase64(rsa) })),
    isCode('unwrap_failed'),
  );
  // The RSA share is bound to both parties and both public keys by the OAEP label.
  await assert.rejects(
    respondX3dh({ ...respondInput(a.init), peer: { username: 'carol', deviceId: 'main' } }),
    (e) => e instanceof CryptoError && (e.code === 'unwrap_failed' || e.code === 'bad_signature'),
  );
  // A swapped ephemeral key changes the OAEP label too.
  const other = await initiateX3dh(await initiateInput());
  await assert.rejects(
    respondX3dh(respondInput({ ...a.init, ek: other.init.ek })),
    isCode('unwrap_failed'),
  );
});

test('acceptV2 refuses a body without x and one naming an unknown signed prekey', async () => {
  const fresh = await makeParty('bob', 1, bob.keys);
  const s = await connect(alice, fresh);
  const reply = await encryptV2(s.bob, 'x', ctx(fresh, alice, 'r'));
  await assert.rejects(
    acceptV2(
      reply.body,
      ctx(fresh, alice, 'r'),
      responderKeys(alice),
      fresh.keys.signing.publicKey,
    ),
    isCode('bad_format'),
  );
  await assert.rejects(
    acceptV2(
      s.firstBody,
      ctx(alice, fresh, 'm0'),
      { ...responderKeys(fresh), signedPrekey: () => undefined },
      alice.keys.signing.publicKey,
    ),
    isCode('bad_key'),
  );
});

test('hybrid: X25519 broken alone or RSA broken alone does not give SK', async () => {
  const rsaSecret = globalThis.crypto.getRandomValues(new Uint8Array(32));
  const input = await initiateInput();
  const a = await initiateX3dh({ ...input, rsaSecret });
  const init = a.init;
  const opk = bob.oneTimePrekeys.get(init.opk as number);
  assert.ok(opk);
  // Every DH output, as someone who broke X25519 (holds Bob's X25519 private keys) computes them.
  const ikA = await importX25519PublicKey(init.ik);
  const ekA = await importX25519PublicKey(init.ek);
  const dhs = [
    await x25519(bob.signedPrekey.privateKey, ikA),
    await x25519(bob.identityKey.privateKey, ekA),
    await x25519(bob.signedPrekey.privateKey, ekA),
    await x25519(opk.privateKey, ekA),
  ];
  // Positive control: with both components, SK is what the initiator derived.
  assert.equal(toHex(await deriveX3dhSecret(dhs, rsaSecret)), toHex(a.sk));
  // X25519 alone: every DH, but not the RSA share (any guess of it).
  const guess = globalThis.crypto.getRandomValues(new Uint8Array(32));
  const x25519Only = await deriveX3dhSecret(dhs, guess);
  assert.notEqual(toHex(x25519Only), toHex(a.sk));
  // RSA alone: the real share (unwrapped with Bob's RSA key, as respondX3dh does), but no DH.
  const rsaOnly = await deriveX3dhSecret(
    dhs.map(() => globalThis.crypto.getRandomValues(new Uint8Array(32))),
    rsaSecret,
  );
  assert.notEqual(toHex(rsaOnly), toHex(a.sk));
  for (let i = 0; i < dhs.length; i++) {
    const oneWrong = dhs.map((d, j) => (j === i ? new Uint8Array(32).fill(1) : d));
    assert.notEqual(toHex(await deriveX3dhSecret(oneWrong, rsaSecret)), toHex(a.sk), `DH${i + 1}`);
  }
  // And neither key opens the first message.
  const first = await encryptV2(
    {
      ...(await initInitiator(a.sk, a.ad, a.peerSignedPrekey)),
      init,
    },
    'secret',
    ctx(alice, bob, 'h1'),
  );
  const b = parseMessageBodyV2(first.body);
  for (const sk of [x25519Only, rsaOnly]) {
    const st = await initResponder(sk, a.ad, bob.signedPrekey);
    await assert.rejects(
      ratchetDecrypt(st, b.header, b.ciphertext, ctx(alice, bob, 'h1')),
      isCode('decrypt_failed'),
    );
  }
  const real = await initResponder(a.sk, a.ad, bob.signedPrekey);
  const opened = await ratchetDecrypt(real, b.header, b.ciphertext, ctx(alice, bob, 'h1'));
  assert.equal(fromUtf8(opened.plaintext), 'secret');
});
