/**
 * Access tokens: EdDSA (Ed25519) JWTs with a `kid` header. The api holds the private keys
 * and signs with the first of its set; every verifier (the api and each gateway) holds only
 * a set of public keys and checks algorithm, key id, issuer, audience, `typ` and expiry with
 * this one function. Several public keys may be valid at once, which is how keys rotate
 * (docs/operations.md, "Rotating the access-token signing key").
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import {
  JWT_ALG,
  JWT_AUDIENCE,
  JWT_ISSUER,
  USERNAME_PATTERN,
  type AccessTokenClaims,
} from '@gossip/protocol';
import {
  SignJWT,
  createLocalJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JWTVerifyGetKey,
} from 'jose';

/** Why a token was refused: a protocol error code. */
export class TokenError extends Error {
  readonly code: 'invalid_token' | 'token_expired';
  constructor(code: 'invalid_token' | 'token_expired', options?: { cause?: unknown }) {
    super(code === 'token_expired' ? 'the token has expired' : 'the token is invalid', options);
    this.name = 'TokenError';
    this.code = code;
  }
}

/** Who a token is minted for. */
export interface TokenSubject {
  username: string;
  /** The account's random id (see AccessTokenClaims.uid). */
  uid: string;
  /** The session (refresh-token family) the token belongs to (AccessTokenClaims.sid). */
  sid: string;
}

/** What a valid access token says. */
export interface VerifiedToken extends TokenSubject {
  /** Expiry, seconds since the epoch. */
  exp: number;
}

/** An Ed25519 public key as a JWK. */
export interface PublicJwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid: string;
  alg?: typeof JWT_ALG;
  use?: 'sig';
}

/** An Ed25519 private key as a JWK (`d` is the secret seed). */
export interface PrivateJwk extends PublicJwk {
  d: string;
}

/** A JWK set, as `API_JWT_PRIVATE_KEYS` and `GATEWAY_JWT_PUBLIC_KEYS` hold it. */
export interface JwkSet<K> {
  keys: K[];
}

/** The key the api signs with. */
export interface SigningKey {
  kid: string;
  key: KeyObject;
}

/** Public keys by `kid`, for {@link verifyAccessToken}. */
export type VerificationKeys = JWTVerifyGetKey;

const usernameRe = new RegExp(USERNAME_PATTERN);

/** The PKCS#8 DER prefix of an Ed25519 private key; the 32-byte seed follows it. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * A new Ed25519 signing key as a JWK. `seed` (32 bytes) makes it deterministic, for tests;
 * without one the key is random.
 */
export function generateSigningJwk(kid: string, seed?: Uint8Array): PrivateJwk {
  const key =
    seed === undefined
      ? generateKeyPairSync('ed25519').privateKey
      : createPrivateKey({
          key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
          format: 'der',
          type: 'pkcs8',
        });
  const jwk = key.export({ format: 'jwk' });
  return { kty: 'OKP', crv: 'Ed25519', x: jwk.x!, d: jwk.d!, kid, alg: JWT_ALG, use: 'sig' };
}

/** The public half of a private key set: what gateways get. */
export function publicKeySet(set: JwkSet<PrivateJwk>): JwkSet<PublicJwk> {
  return {
    keys: set.keys.map(({ kty, crv, x, kid }) => ({ kty, crv, x, kid, alg: JWT_ALG, use: 'sig' })),
  };
}

/**
 * A fresh key pair as the two variables' values: the api's private set and the gateways'
 * public set, as JSON (local runs and test stacks; the operator generates its own Secret).
 */
export function generateKeySets(kid: string): { privateKeys: string; publicKeys: string } {
  const set = { keys: [generateSigningJwk(kid)] };
  return { privateKeys: JSON.stringify(set), publicKeys: JSON.stringify(publicKeySet(set)) };
}

/** Parses and checks a JWK set; `private` requires `d` on every key, public forbids it. */
function parseSet(text: string, kind: 'private' | 'public'): JwkSet<PrivateJwk> {
  let set: unknown;
  try {
    set = JSON.parse(text);
  } catch {
    throw new Error('must be a JSON JWK set: {"keys":[...]}');
  }
  const keys = (set as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new Error('must be a JSON JWK set with at least one key: {"keys":[...]}');
  }
  const seen = new Set<string>();
  for (const [i, k] of (keys as Record<string, unknown>[]).entries()) {
    if (typeof k !== 'object' || k === null || k.kty !== 'OKP' || k.crv !== 'Ed25519') {
      throw new Error(`key ${i} must be an Ed25519 JWK (kty OKP, crv Ed25519)`);
    }
    if (typeof k.kid !== 'string' || k.kid === '' || seen.has(k.kid)) {
      throw new Error(`key ${i} needs a "kid" of its own`);
    }
    seen.add(k.kid);
    if (typeof k.x !== 'string') throw new Error(`key ${k.kid} has no "x"`);
    if (kind === 'private' && typeof k.d !== 'string') {
      throw new Error(`key ${k.kid} is not a private key (no "d")`);
    }
    // A verifier never needs the private half; refusing it keeps it off gateways.
    if (kind === 'public' && k.d !== undefined) {
      throw new Error(`key ${k.kid} is a private key; give verifiers the public keys only`);
    }
    try {
      if (kind === 'private') {
        const priv = createPrivateKey({ key: k as never, format: 'jwk' });
        if (createPublicKey(priv).export({ format: 'jwk' }).x !== k.x) throw new Error('x');
      } else {
        createPublicKey({ key: k as never, format: 'jwk' });
      }
    } catch (err) {
      throw new Error(`key ${k.kid} is not a valid Ed25519 key`, { cause: err });
    }
  }
  return set as JwkSet<PrivateJwk>;
}

/**
 * Parses `API_JWT_PRIVATE_KEYS`: the first key signs, all of them verify. Throws an Error
 * whose message says what is wrong (never the key material).
 */
export function parseSigningKeys(text: string): {
  signing: SigningKey;
  verification: VerificationKeys;
  publicSet: JwkSet<PublicJwk>;
} {
  const set = parseSet(text, 'private');
  const first = set.keys[0]!;
  const publicSet = publicKeySet(set);
  return {
    signing: { kid: first.kid, key: createPrivateKey({ key: first as never, format: 'jwk' }) },
    verification: createLocalJWKSet(publicSet),
    publicSet,
  };
}

/** Parses `GATEWAY_JWT_PUBLIC_KEYS`: public keys only (a private key is refused). */
export function parseVerificationKeys(text: string): VerificationKeys {
  const set = parseSet(text, 'public');
  return createLocalJWKSet(set);
}

/** Signs an access token for `subject`, valid for at least `ttlSeconds` from `now` (ms). */
export function signAccessToken(
  subject: TokenSubject,
  key: SigningKey,
  ttlSeconds: number,
  now: number = Date.now(),
): Promise<string> {
  return gossipJwt(
    { uid: subject.uid, sid: subject.sid, typ: 'access' },
    subject.username,
    key,
    ttlSeconds,
    now,
  ).sign(key.key);
}

/**
 * The part every Gossip JWT shares: EdDSA header with the key's `kid`, subject, issuer,
 * audience, issued-at, and an expiry rounded up so the JWT lives at least `ttlSeconds`
 * (NumericDate is seconds).
 */
function gossipJwt(
  claims: Record<string, unknown>,
  subject: string,
  key: SigningKey,
  ttlSeconds: number,
  now: number,
): SignJWT {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: JWT_ALG, typ: 'JWT', kid: key.kid })
    .setSubject(subject)
    .setIssuer(JWT_ISSUER)
    .setAudience(JWT_AUDIENCE)
    .setIssuedAt(Math.floor(now / 1000))
    .setExpirationTime(Math.ceil(now / 1000 + ttlSeconds));
}

/**
 * Verifies an access token: EdDSA only (never `none`, HS256 or another algorithm) under a
 * key of `keys` chosen by `kid`, issuer, audience, `typ`, `sub`, `uid`, `sid` and expiry.
 * The only verifier in Gossip: the api and the gateway both call it. Throws a
 * {@link TokenError}.
 */
export async function verifyAccessToken(
  token: string,
  keys: VerificationKeys,
  now: number = Date.now(),
): Promise<VerifiedToken> {
  const claims = await verifyJwt(token, keys, now, 'access');
  return { username: claims.sub, uid: claims.uid, sid: claims.sid, exp: claims.exp };
}

/** `typ` of a WebSocket ticket: never accepted where an access token is expected. */
export const WS_TICKET_TYP = 'ws-ticket';

/** What a valid WebSocket ticket says: its access token's subject and expiry, and its id. */
export interface VerifiedTicket extends VerifiedToken {
  /** The ticket's id: the gateway consumes it once (see @gossip/protocol `wsTicketKey`). */
  jti: string;
}

/**
 * Signs a single-use WebSocket ticket for the holder of the verified access token `of`: it
 * expires after `ttlSeconds`, carries the access token's expiry (`texp`, which the socket
 * inherits) and the id `jti` the gateway consumes. It goes in a URL instead of the token.
 */
export function signWsTicket(
  of: VerifiedToken,
  jti: string,
  key: SigningKey,
  ttlSeconds: number,
  now: number = Date.now(),
): Promise<string> {
  return gossipJwt(
    { uid: of.uid, sid: of.sid, typ: WS_TICKET_TYP, texp: of.exp },
    of.username,
    key,
    ttlSeconds,
    now,
  )
    .setJti(jti)
    .sign(key.key);
}

/**
 * Verifies a WebSocket ticket with the same checks as {@link verifyAccessToken} (and the
 * same code), for `typ: ws-ticket`. Single use is the caller's part (the gateway). Throws a
 * {@link TokenError}.
 */
export async function verifyWsTicket(
  ticket: string,
  keys: VerificationKeys,
  now: number = Date.now(),
): Promise<VerifiedTicket> {
  const claims = await verifyJwt(ticket, keys, now, WS_TICKET_TYP);
  const { jti, texp } = claims as { jti?: unknown; texp?: unknown };
  if (typeof jti !== 'string' || typeof texp !== 'number') throw new TokenError('invalid_token');
  if (texp * 1000 <= now) throw new TokenError('token_expired');
  return { username: claims.sub, uid: claims.uid, sid: claims.sid, exp: texp, jti };
}

/** The checked claims, and the rest of the payload (a ticket's `jti` and `texp`). */
type CheckedClaims = Pick<AccessTokenClaims, 'sub' | 'uid' | 'sid' | 'exp'> &
  Record<string, unknown>;

async function verifyJwt(
  token: string,
  keys: VerificationKeys,
  now: number,
  typ: string,
): Promise<CheckedClaims> {
  let claims: Partial<Omit<AccessTokenClaims, 'typ'>> & { typ?: unknown };
  try {
    const { payload } = await jwtVerify(token, keys, {
      algorithms: [JWT_ALG],
      issuer: JWT_ISSUER,
      audience: JWT_AUDIENCE,
      requiredClaims: ['sub', 'exp'],
      currentDate: new Date(now),
    });
    claims = payload as Partial<AccessTokenClaims>;
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw new TokenError('token_expired', { cause: err });
    throw new TokenError('invalid_token', { cause: err });
  }
  if (
    claims.typ !== typ ||
    typeof claims.sub !== 'string' ||
    !usernameRe.test(claims.sub) ||
    typeof claims.uid !== 'string' ||
    typeof claims.sid !== 'string' ||
    typeof claims.exp !== 'number'
  ) {
    throw new TokenError('invalid_token');
  }
  return { ...claims, sub: claims.sub, uid: claims.uid, sid: claims.sid, exp: claims.exp };
}
