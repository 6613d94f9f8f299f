/**
 * Password hashing with Node's scrypt. Stored as `scrypt$<logN>$<r>$<p>$<salt>$<hash>`
 * (base64): the parameters travel with each hash, so the cost can be raised while old
 * hashes keep verifying, and a login with an old hash re-hashes it ({@link needsRehash}).
 *
 * The defaults follow OWASP's Password Storage Cheat Sheet for scrypt: N = 2^17, r = 8,
 * p = 1, i.e. 128 MiB and a few hundred milliseconds of one core per hash. That cost is
 * why every hash the api computes for a request goes through {@link PasswordHasher}'s
 * bounded pool.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { ApiError } from './errors.js';

const KEY_LEN = 32;
const SALT_LEN = 16;
/** OWASP's scrypt guidance: log2(N) = 17 (the `API_SCRYPT_LOG_N` default), r = 8, p = 1. */
export const OWASP_SCRYPT = Object.freeze({ logN: 17, r: 8, p: 1 });
const R = OWASP_SCRYPT.r;
const P = OWASP_SCRYPT.p;

function scryptAsync(password: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_LEN, opts, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/**
 * Node's scrypt options for the parameters. Node refuses more than 32 MiB unless told:
 * scrypt needs 128 * N * r bytes (128 MiB at the defaults), so `maxmem` is set to twice
 * that, which also covers OpenSSL's small extra buffers.
 */
export function scryptOptions(logN: number, r: number, p: number): ScryptOptions {
  return { N: 2 ** logN, r, p, maxmem: 256 * 2 ** logN * r };
}

/** Hashes `password` with a fresh 128-bit salt. */
export async function hashPassword(password: string, logN: number): Promise<string> {
  const salt = randomBytes(SALT_LEN);
  const key = await scryptAsync(password, salt, scryptOptions(logN, R, P));
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
    scryptOptions(Number(logN), Number(r), Number(p)),
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

/**
 * Whether `stored` was made with other parameters than `logN` (and this module's r and
 * p): true for a hash that should be replaced at the next successful login.
 */
export function needsRehash(stored: string, logN: number): boolean {
  const [scheme, n, r, p] = stored.split('$');
  return scheme !== 'scrypt' || Number(n) !== logN || Number(r) !== R || Number(p) !== P;
}

/** A snapshot of the pool, for tests and the metrics. */
export interface HashPoolStats {
  running: number;
  queued: number;
}

/**
 * At most `concurrency` jobs at once and at most `maxQueue` waiting; beyond that `run`
 * refuses at once. scrypt runs on libuv's thread pool (4 threads by default), which file
 * and DNS work share, so a flood of logins may take some of it but never all of it, and
 * waits in a queue whose length, and so whose memory, is bounded.
 */
export class HashPool {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly concurrency: number,
    private readonly maxQueue: number,
  ) {}

  stats(): HashPoolStats {
    return { running: this.running, queued: this.waiting.length };
  }

  /** Runs `job` when a slot is free; throws `unavailable` (503) when the queue is full. */
  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.maxQueue) {
        throw new ApiError('unavailable', 'Too many password checks at once; retry shortly.', {
          retryAfter: 1,
        });
      }
      // The finishing job hands its slot over, so `running` stays as it is.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await job();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

/** The api's password hashing: the configured cost, every hash through one bounded pool. */
export class PasswordHasher {
  constructor(
    readonly pool: HashPool,
    private readonly logN: number,
  ) {}

  hash(password: string): Promise<string> {
    return this.pool.run(() => hashPassword(password, this.logN));
  }

  verify(password: string, stored: string): Promise<boolean> {
    return this.pool.run(() => verifyPassword(password, stored));
  }

  /** Whether `stored` predates the configured parameters; see {@link needsRehash}. */
  outdated(stored: string): boolean {
    return needsRehash(stored, this.logN);
  }
}
