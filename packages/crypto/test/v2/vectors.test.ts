/**
 * The known-answer vectors (vectors.json, made by gen-vectors.ts): checkVectors agrees with
 * the fixture, a changed value is caught, and the main derivations are recomputed here with
 * node:crypto (OpenSSL, not WebCrypto's code path) to show the fixture is what the spec says.
 */
import assert from 'node:assert/strict';
import {
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fromHex } from '../../src/bytes.js';
import { messageAad } from '../../src/v2/ratchet.js';
import { checkVectors, type Vectors } from '../../src/v2/vectors.js';

const vectors = JSON.parse(
  readFileSync(new URL('./vectors.json', import.meta.url), 'utf8'),
) as Vectors;
const out = vectors.outputs;

test('checkVectors: this implementation reproduces every value of vectors.json', async () => {
  assert.ok(Object.keys(out).length >= 60, 'the fixture lists every derivation');
  assert.deepEqual(await checkVectors(vectors), []);
});

test('checkVectors names a value that differs, and one that is missing', async () => {
  const changed: Vectors = structuredClone(vectors);
  const sk = changed.outputs['x3dh.with-opk.sk'] as string;
  changed.outputs['x3dh.with-opk.sk'] = (sk[0] === '0' ? '1' : '0') + sk.slice(1);
  delete changed.outputs['ratchet.chain.1.nonce'];
  assert.deepEqual(await checkVectors(changed), ['ratchet.chain.1.nonce', 'x3dh.with-opk.sk']);
});

const PKCS8 = '302e020100300506032b656e04220420';
const priv = (hex: string) =>
  createPrivateKey({ key: Buffer.from(PKCS8 + hex, 'hex'), format: 'der', type: 'pkcs8' });
const pub = (hex: string) =>
  createPublicKey({
    key: Buffer.from('302a300506032b656e032100' + hex, 'hex'),
    format: 'der',
    type: 'spki',
  });
const dh = (privHex: string, pubHex: string) =>
  diffieHellman({ privateKey: priv(privHex), publicKey: pub(pubHex) }).toString('hex');
const hkdf = (salt: string, ikm: string, info: string, n: number) =>
  Buffer.from(
    hkdfSync('sha256', Buffer.from(ikm, 'hex'), Buffer.from(salt, 'hex'), info, n),
  ).toString('hex');
const hmac = (key: string, byte: number) =>
  createHmac('sha256', Buffer.from(key, 'hex'))
    .update(Buffer.from([byte]))
    .digest('hex');

test('node:crypto agrees: X3DH DH outputs and SK, with and without the one-time prekey', () => {
  for (const c of vectors.inputs.x3dh) {
    const p = `x3dh.${c.name}`;
    const spkB = out[`${p}.spkB.public`] as string;
    const dhs = [
      dh(c.ikA, spkB),
      dh(c.ekA, out[`${p}.ikB.public`] as string),
      dh(c.ekA, spkB),
      ...(c.opkB ? [dh(c.ekA, out[`${p}.opkB.public`] as string)] : []),
    ];
    dhs.forEach((d, i) => assert.equal(d, out[`${p}.dh${i + 1}`], `${p}.dh${i + 1}`));
    const ikm = 'ff'.repeat(32) + dhs.join('') + c.rsaSecret;
    assert.equal(hkdf('00'.repeat(32), ikm, 'gossip/x3dh/2', 32), out[`${p}.sk`], `${p}.sk`);
  }
  assert.notEqual(out['x3dh.with-opk.sk'], out['x3dh.no-opk.sk']);
});

test('node:crypto agrees: first root step, chain steps, message keys and nonces', () => {
  const r = vectors.inputs.ratchet;
  const sk = out[`x3dh.${r.x3dh}.sk`] as string;
  const spkB = out[`x3dh.${r.x3dh}.spkB.public`] as string;
  const root = hkdf(sk, dh(r.aliceRatchet[0] as string, spkB), 'gossip/ratchet/root/2', 64);
  assert.equal(root.slice(0, 64), out['ratchet.alice.init.rk']);
  assert.equal(root.slice(64), out['ratchet.alice.init.cks']);
  let ck = root.slice(64);
  for (let i = 0; i < r.chainSteps; i++) {
    const mk = hmac(ck, 1);
    const next = hmac(ck, 2);
    const km = hkdf('00'.repeat(32), mk, 'gossip/ratchet/msg/2', 44);
    assert.equal(mk, out[`ratchet.chain.${i}.mk`]);
    assert.equal(next, out[`ratchet.chain.${i}.ck`]);
    assert.equal(km.slice(0, 64), out[`ratchet.chain.${i}.aesKey`]);
    assert.equal(km.slice(64), out[`ratchet.chain.${i}.nonce`]);
    ck = next;
  }
});

test('node:crypto agrees: message m1 opens with chain step 0 key and nonce, and its header', () => {
  const header = out['ratchet.message.m1.header'] as string;
  // Alice's first ratchet public key, PN 0, N 0.
  assert.equal(header.length, 80);
  assert.equal(header.slice(64), '00000000' + '00000000');
  const x = vectors.inputs.x3dh.find((c) => c.name === vectors.inputs.ratchet.x3dh);
  assert.ok(x);
  const ad = fromHex(out[`x3dh.${x.name}.ad`] as string);
  const aad = messageAad(
    {
      from: x.initiator.username,
      fromDevice: x.initiator.deviceId,
      to: x.responder.username,
      toDevice: x.responder.deviceId,
      id: 'm1',
    },
    ad,
    fromHex(header),
  );
  const ct = Buffer.from(out['ratchet.message.m1.ciphertext'] as string, 'hex');
  const d = createDecipheriv(
    'aes-256-gcm',
    Buffer.from(out['ratchet.chain.0.aesKey'] as string, 'hex'),
    Buffer.from(out['ratchet.chain.0.nonce'] as string, 'hex'),
  );
  d.setAAD(aad);
  d.setAuthTag(ct.subarray(ct.length - 16));
  const plain = Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]);
  assert.equal(plain.toString('utf8'), vectors.inputs.ratchet.messages[0]?.text);
});
