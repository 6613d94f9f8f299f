import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import {
  fingerprint,
  formatSafetyNumber,
  safetyNumber,
  type FingerprintParty,
} from '../src/fingerprint.js';

/** An independent implementation of the documented algorithm on node:crypto, for the vector. */
function referenceFingerprint(p: FingerprintParty): string {
  const field = (b: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const s = Buffer.from(p.signingKey, 'base64');
  const w = Buffer.from(p.wrappingKey, 'base64');
  const keys = Buffer.concat([field(s), field(w)]);
  let h = createHash('sha256')
    .update(
      Buffer.concat([
        field(Buffer.from('gossip/fp')),
        field(Buffer.from('1')),
        field(Buffer.from(p.username)),
        field(s),
        field(w),
      ]),
    )
    .digest();
  for (let i = 0; i < 5200; i++) h = createHash('sha256').update(h).update(keys).digest();
  let out = '';
  for (let c = 0; c < 6; c++) out += String(h.readUIntBE(c * 5, 5) % 100000).padStart(5, '0');
  return out;
}

function party(username: string): FingerprintParty {
  const ed = generateKeyPairSync('ed25519');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 3072 });
  return {
    username,
    signingKey: ed.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    wrappingKey: rsa.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
  };
}

// Fixed inputs: the RFC 8032 test-1 Ed25519 public key and a fixed byte string standing in for the
// wrapping SPKI (the fingerprint hashes bytes; it does not parse them).
const fixedA: FingerprintParty = {
  username: 'alice',
  signingKey: Buffer.from(
    '302a300506032b6570032100d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    'hex',
  ).toString('base64'),
  wrappingKey: Buffer.alloc(64, 0xa5).toString('base64'),
};
const fixedB: FingerprintParty = {
  username: 'bob',
  signingKey: Buffer.alloc(44, 0x01).toString('base64'),
  wrappingKey: Buffer.alloc(64, 0x02).toString('base64'),
};

test('fingerprint known answer, computed independently with node:crypto', async () => {
  const expectedA = referenceFingerprint(fixedA);
  assert.equal(expectedA, '130530085114997840230817804068');
  assert.equal(await fingerprint(fixedA), expectedA);
  const p = party('carol');
  assert.equal(await fingerprint(p), referenceFingerprint(p));
});

test('the safety number is order-independent: both sides see the same 60 digits', async () => {
  const ab = await safetyNumber(fixedA, fixedB);
  assert.equal(ab, await safetyNumber(fixedB, fixedA));
  assert.match(ab, /^\d{60}$/);
  const [fa, fb] = [referenceFingerprint(fixedA), referenceFingerprint(fixedB)].sort();
  assert.equal(ab, `${fa}${fb}`);
});

test('the safety number changes when either party’s key or name changes', async () => {
  const base = await safetyNumber(fixedA, fixedB);
  const swapped = { ...fixedB, wrappingKey: Buffer.alloc(64, 0x03).toString('base64') };
  assert.notEqual(await safetyNumber(fixedA, swapped), base);
  const resigned = { ...fixedA, signingKey: Buffer.alloc(44, 0x09).toString('base64') };
  assert.notEqual(await safetyNumber(resigned, fixedB), base);
  assert.notEqual(await safetyNumber({ ...fixedA, username: 'alicia' }, fixedB), base);
});

test('formatSafetyNumber groups digits by five', () => {
  const digits = '0123456789'.repeat(6);
  assert.equal(formatSafetyNumber(digits).split(' ').length, 12);
  assert.equal(formatSafetyNumber(digits, 4).split('\n').length, 3);
  assert.equal(formatSafetyNumber(digits, 4).split('\n')[0], '01234 56789 01234 56789');
});
