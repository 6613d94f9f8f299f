import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { fromBase64, toBase64 } from '../src/bytes.js';
import { signKeyChange, verifyKeyChain, verifyKeyChange } from '../src/continuity.js';
import {
  exportPublicKeys,
  generateIdentityKeys,
  type IdentityKeys,
  type PublicKeyStrings,
} from '../src/keys.js';

let k1: IdentityKeys;
let k2: IdentityKeys;
let k3: IdentityKeys;
let p1: PublicKeyStrings;
let p2: PublicKeyStrings;
let p3: PublicKeyStrings;
let proof12: string;
let proof23: string;

before(async () => {
  [k1, k2, k3] = await Promise.all([
    generateIdentityKeys(),
    generateIdentityKeys(),
    generateIdentityKeys(),
  ]);
  [p1, p2, p3] = await Promise.all([
    exportPublicKeys(k1),
    exportPublicKeys(k2),
    exportPublicKeys(k3),
  ]);
  proof12 = await signKeyChange(
    { username: 'alice', previousSigningKey: p1.signingKey, next: p2 },
    k1.signing.privateKey,
  );
  proof23 = await signKeyChange(
    { username: 'alice', previousSigningKey: p2.signingKey, next: p3 },
    k2.signing.privateKey,
  );
});

test('a key change signed by the previous signing key verifies', async () => {
  assert.equal(
    await verifyKeyChange(
      { username: 'alice', previousSigningKey: p1.signingKey, next: p2 },
      proof12,
    ),
    true,
  );
});

test('a proof does not verify for another user, another previous key, other new keys or flipped bits', async () => {
  const base = { username: 'alice', previousSigningKey: p1.signingKey, next: p2 };
  assert.equal(await verifyKeyChange({ ...base, username: 'mallory' }, proof12), false);
  assert.equal(
    await verifyKeyChange({ ...base, previousSigningKey: p3.signingKey }, proof12),
    false,
  );
  assert.equal(await verifyKeyChange({ ...base, next: p3 }, proof12), false);
  assert.equal(
    await verifyKeyChange({ ...base, next: { ...p2, wrappingKey: p3.wrappingKey } }, proof12),
    false,
  );
  const flipped = fromBase64(proof12);
  flipped[5] = (flipped[5] ?? 0) ^ 1;
  assert.equal(await verifyKeyChange(base, toBase64(flipped)), false);
  // Signed by the new key itself (what a server that made the keys could produce): refused.
  const selfSigned = await signKeyChange(base, k2.signing.privateKey);
  assert.equal(await verifyKeyChange(base, selfSigned), false);
  assert.equal(await verifyKeyChange(base, 'not base64!'), false);
  assert.equal(await verifyKeyChange({ ...base, previousSigningKey: 'AAAA' }, proof12), false);
});

test('a chain of signed steps leads from the pinned keys to the current ones; a gap or unsigned step does not', async () => {
  const chain = [
    { keyVersion: 2, keys: p2, proof: proof12 },
    { keyVersion: 3, keys: p3, proof: proof23 },
  ];
  const from = { keyVersion: 1, signingKey: p1.signingKey };
  // alice's chain as a client checks it, to the published version 3 (its keys p3 unless given).
  type ChainCheck = Parameters<typeof verifyKeyChain>[0];
  const leadsTo3 = (
    steps: ChainCheck['chain'],
    o: { from?: ChainCheck['from']; keys?: typeof p3 } = {},
  ) =>
    verifyKeyChain({
      username: 'alice',
      from: o.from ?? from,
      to: { keyVersion: 3, keys: o.keys ?? p3 },
      chain: steps,
    });
  assert.equal(await leadsTo3(chain), true);
  assert.equal(await leadsTo3(chain, { from: { keyVersion: 2, signingKey: p2.signingKey } }), true);
  // The last step missing: the chain ends at version 2, not at the published version 3.
  assert.equal(await leadsTo3(chain.slice(0, 1)), false);
  // The first step missing (the pinned version is older than the history): a gap.
  assert.equal(await leadsTo3(chain.slice(1)), false);
  // An unsigned reset in the middle.
  assert.equal(await leadsTo3([{ keyVersion: 2, keys: p2, proof: null }, chain[1]!]), false);
  // The chain ends in keys other than the ones published.
  assert.equal(await leadsTo3(chain, { keys: p1 }), false);
});
