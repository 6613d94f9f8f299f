import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { computeVectors, type VectorInputs, type Vectors } from '../../src/v2/vectors.js';
const k = (label: string) =>
  createHash('sha256').update(`gossip v2 test vector ${label}`).digest('hex');
const alice = { username: 'alice', deviceId: 'main' };
const bob = { username: 'bob', deviceId: 'main' };
/** The same keys with and without the one-time prekey. */
const x3dhCase = (name: string, opk: boolean): VectorInputs['x3dh'][number] => ({
  name,
  initiator: alice,
  responder: bob,
  ikA: k('IK_A'),
  ekA: k('EK_A'),
  ikB: k('IK_B'),
  spkB: k('SPK_B'),
  ...(opk ? { opkB: k('OPK_B') } : {}),
  rsaSecret: k('rsaSecret'),
});
const inputs: VectorInputs = {
  x3dh: [x3dhCase('with-opk', true), x3dhCase('no-opk', false)],
  ratchet: {
    x3dh: 'with-opk',
    aliceRatchet: [k('alice ratchet 0'), k('alice ratchet 1'), k('alice ratchet 2')],
    bobRatchet: [k('bob ratchet 1'), k('bob ratchet 2')],
    chainSteps: 3,
    messages: [
      { from: 'alice', id: 'm1', text: 'hello bob' },
      { from: 'alice', id: 'm2', text: 'second, same chain' },
      { from: 'bob', id: 'm3', text: 'hi alice: new DH ratchet step' },
      { from: 'alice', id: 'm4', text: 'and another step back' },
      { from: 'bob', id: 'm5', text: '' },
    ],
  },
};
const v: Vectors = {
  description:
    'Gossip v2 (issue 16) known-answer vectors: X3DH with the RSA share (SK, AD, each DH), the first root step, chain steps (mk, ck, AES key, nonce) and five messages with fixed ratchet keys. Private keys are SHA-256 of "gossip v2 test vector <label>". All values hex. Checked by checkVectors() in packages/crypto/src/v2/vectors.ts.',
  inputs,
  outputs: await computeVectors(inputs),
};
writeFileSync(new URL('./vectors.json', import.meta.url), JSON.stringify(v, null, 2) + '\n');
console.log(Object.keys(v.outputs).length);
