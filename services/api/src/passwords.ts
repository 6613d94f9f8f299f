/**
 * Password hashing with Node's scrypt. Stored as `scrypt$<logN>$<r>$<p>$<salt>$<hash>`
 * (base64), so the cost can be raised later while old hashes keep verifying.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const KEY_LEN = 32;
const SALT_LEN = 16;
const R = 8;
const P = 1;

function scryptAsync(password: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_LEN, opts, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

function options(logN: number, r: number, p: number): ScryptOptions {
  // Node refuses more than 32 MiB by default; scrypt needs 128 * N * r bytes.
  return { N: 2 ** logN, r, p, maxmem: 256 * 2 ** logN * r };
}

/** Hashes `password` with a fresh 128-bit salt. */
export async function hashPassword(password: string, logN: number): Promise<string> {
  const salt = randomBytes(SALT_LEN);
  const key = await scryptAsync(password, salt, options(logN, R, P));
  return ['scrypt', logN, R, P, salt.toString('base64'), key.toString('base64')].join('$');
}

/** Checks `password` against a stored hash in constant time. False for a malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, logN, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, 'base64');
  const key = await scryptAsync(
    password,
    Buffer.from(salt, 'base64'),
    options(Number(logN), Number(r), Number(p)),
  );
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/**
 * A hash of a random password, verified against when a login names an unknown user, so
 * that both cases take the same time and give the same answer.
 */
export function dummyHash(logN: number): Promise<string> {
  return hashPassword(randomBytes(16).toString('hex'), logN);
}
