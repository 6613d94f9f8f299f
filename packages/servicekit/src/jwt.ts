/**
 * Access tokens, signed by the api and verified by the api and the gateway with the same
 * code: HS256 under a shared secret, fixed issuer and audience, `typ: access`, expiry.
 */
import { JWT_ALG, JWT_AUDIENCE, JWT_ISSUER, type AccessTokenClaims } from '@gossip/protocol';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';

/** Why a token was refused: a protocol error code. */
export class TokenError extends Error {
  readonly code: 'invalid_token' | 'token_expired';
  constructor(code: 'invalid_token' | 'token_expired', options?: { cause?: unknown }) {
    super(code === 'token_expired' ? 'the token has expired' : 'the token is invalid', options);
    this.name = 'TokenError';
    this.code = code;
  }
}

/** Who a valid access token speaks for. */
export interface TokenSubject {
  username: string;
  /** The account's random id (see AccessTokenClaims.uid). */
  uid: string;
}

/** Decodes a base64 shared secret (`API_JWT_SECRET`/`GATEWAY_JWT_SECRET`) to key bytes. */
export function jwtSecretFromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/** Signs an access token for `subject`, valid for at least `ttlSeconds` from `now` (ms). */
export function signAccessToken(
  subject: TokenSubject,
  secret: Uint8Array,
  ttlSeconds: number,
  now: number = Date.now(),
): Promise<string> {
  const nowSec = Math.floor(now / 1000);
  // Round the expiry up, so a token lives at least `ttlSeconds` (NumericDate is seconds).
  const exp = Math.ceil(now / 1000 + ttlSeconds);
  return new SignJWT({ uid: subject.uid, typ: 'access' })
    .setProtectedHeader({ alg: JWT_ALG, typ: 'JWT' })
    .setSubject(subject.username)
    .setIssuer(JWT_ISSUER)
    .setAudience(JWT_AUDIENCE)
    .setIssuedAt(nowSec)
    .setExpirationTime(exp)
    .sign(secret);
}

/**
 * Verifies an access token: HS256 only (never `none` or another algorithm), issuer,
 * audience, `typ` and expiry. Throws a {@link TokenError}.
 */
export async function verifyAccessToken(
  token: string,
  secret: Uint8Array,
  now: number = Date.now(),
): Promise<TokenSubject> {
  let claims: Partial<AccessTokenClaims>;
  try {
    const { payload } = await jwtVerify(token, secret, {
      algorithms: [JWT_ALG],
      issuer: JWT_ISSUER,
      audience: JWT_AUDIENCE,
      currentDate: new Date(now),
    });
    claims = payload as Partial<AccessTokenClaims>;
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw new TokenError('token_expired', { cause: err });
    throw new TokenError('invalid_token', { cause: err });
  }
  if (claims.typ !== 'access' || typeof claims.sub !== 'string' || typeof claims.uid !== 'string') {
    throw new TokenError('invalid_token');
  }
  return { username: claims.sub, uid: claims.uid };
}
