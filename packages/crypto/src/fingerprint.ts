/**
 * Fingerprints and safety numbers, after Signal's numeric fingerprints.
 *
 * A party's fingerprint is 30 digits derived from their username and both public
 * keys (SPKI bytes):
 *
 *     keys = encodeFields([signing SPKI, wrapping SPKI])
 *     h0   = SHA-256(encodeFields(["gossip/fp", "1", username, signing SPKI, wrapping SPKI]))
 *     h(i+1) = SHA-256(h(i) || keys)          for i in 0 .. 5199
 *     digits = for each of the first six 5-byte chunks of h(5200):
 *              (chunk as a 40-bit big-endian integer) mod 100000, zero-padded to 5
 *
 * The 5200 iterations (Signal's count) make it costly to grind for a different key
 * whose fingerprint merely looks similar. The safety number of two parties is their
 * two fingerprints sorted and concatenated: 60 digits, the same on both phones, and
 * different as soon as either party's keys differ from what the other has pinned.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { compareBytes, encodeFields, fromBase64 } from './bytes.js';
import type { PublicKeyStrings } from './keys.js';

/** Hash iterations per fingerprint (Signal uses the same count). */
export const FINGERPRINT_ITERATIONS = 5200;
/** Digits in one party's fingerprint. */
export const FINGERPRINT_DIGITS = 30;

/** Whose keys a fingerprint covers. */
export interface FingerprintParty extends PublicKeyStrings {
  username: string;
}

/*
 * SHA-256 from @noble/hashes, synchronously: WebCrypto's `digest` cost a round trip through
 * its job queue for each of the 5,200 rounds (about half a second of CPU per fingerprint
 * in Node 20, paid every time a contact's keys are pinned or checked; issue 18). Same
 * digest, so the same digits (the known answer in test/fingerprint.test.ts).
 */

/** One party's 30-digit fingerprint over their username and both public keys. */
export async function fingerprint(party: FingerprintParty): Promise<string> {
  const signing = fromBase64(party.signingKey);
  const wrapping = fromBase64(party.wrappingKey);
  const keys = encodeFields([signing, wrapping]);
  let h = sha256(encodeFields(['gossip/fp', '1', party.username, signing, wrapping]));
  const buf = new Uint8Array(h.length + keys.length);
  buf.set(keys, h.length);
  for (let i = 0; i < FINGERPRINT_ITERATIONS; i++) {
    buf.set(h, 0);
    h = sha256(buf);
  }
  let digits = '';
  for (let chunk = 0; chunk < FINGERPRINT_DIGITS / 5; chunk++) {
    let n = 0;
    for (let b = 0; b < 5; b++) n = n * 256 + (h[chunk * 5 + b] as number);
    digits += String(n % 100000).padStart(5, '0');
  }
  return digits;
}

/**
 * The 60-digit safety number two parties compare out of band. Order-independent:
 * `safetyNumber(a, b) === safetyNumber(b, a)`.
 */
export async function safetyNumber(a: FingerprintParty, b: FingerprintParty): Promise<string> {
  const fa = await fingerprint(a);
  const fb = await fingerprint(b);
  const enc = new TextEncoder();
  return compareBytes(enc.encode(fa), enc.encode(fb)) <= 0 ? fa + fb : fb + fa;
}

/** Splits digits into groups of five, the way they are read aloud: "12345 67890 ...". */
export function formatSafetyNumber(digits: string, groupsPerLine = 12): string {
  const groups = digits.match(/.{1,5}/g) ?? [];
  const lines: string[] = [];
  for (let i = 0; i < groups.length; i += groupsPerLine) {
    lines.push(groups.slice(i, i + groupsPerLine).join(' '));
  }
  return lines.join('\n');
}
