/**
 * Access-token checks at the WebSocket upgrade: HS256 JWTs from the api (shared secret),
 * with algorithm, issuer, audience, `typ` and expiry verified.
 */
import type { IncomingMessage } from 'node:http';
import { errors, jwtVerify } from 'jose';
import { JWT_ALG, JWT_AUDIENCE, JWT_ISSUER, USERNAME_PATTERN } from '@gossip/protocol';

export interface Session {
  username: string;
  uid: string;
  /** Token expiry, seconds since the epoch. */
  exp: number;
}

export type AuthResult =
  | { ok: true; session: Session }
  | { ok: false; code: 'unauthorized' | 'invalid_token' | 'token_expired' };

const usernameRe = new RegExp(USERNAME_PATTERN);

/**
 * The bearer token of an upgrade request: `Authorization: Bearer <t>` (native clients), or
 * the `access_token` query parameter (browsers cannot set headers on a WebSocket).
 */
export function tokenFrom(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (typeof h === 'string') {
    const m = /^Bearer\s+(\S+)$/i.exec(h);
    return m?.[1];
  }
  const url = new URL(req.url ?? '/', 'http://gateway');
  return url.searchParams.get('access_token') ?? undefined;
}

/** Verifies an access token. */
export async function verifyAccessToken(
  token: string | undefined,
  secret: Uint8Array,
): Promise<AuthResult> {
  if (!token) return { ok: false, code: 'unauthorized' };
  try {
    const { payload } = await jwtVerify(token, secret, {
      algorithms: [JWT_ALG],
      issuer: JWT_ISSUER,
      audience: JWT_AUDIENCE,
      requiredClaims: ['sub', 'exp'],
    });
    if (payload.typ !== 'access') return { ok: false, code: 'invalid_token' };
    if (typeof payload.sub !== 'string' || !usernameRe.test(payload.sub)) {
      return { ok: false, code: 'invalid_token' };
    }
    return {
      ok: true,
      session: {
        username: payload.sub,
        uid: typeof payload.uid === 'string' ? payload.uid : '',
        exp: payload.exp ?? 0,
      },
    };
  } catch (err) {
    if (err instanceof errors.JWTExpired) return { ok: false, code: 'token_expired' };
    return { ok: false, code: 'invalid_token' };
  }
}
