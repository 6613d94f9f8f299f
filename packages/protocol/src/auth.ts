/**
 * Access tokens: JWTs signed with HS256 by the api under a secret shared with the
 * gateway (`API_JWT_SECRET` = `GATEWAY_JWT_SECRET`, base64 of at least 32 bytes).
 * Verifiers must check the algorithm, issuer, audience, `typ` and expiry.
 */

export const JWT_ALG = 'HS256' as const;
export const JWT_ISSUER = 'gossip-api' as const;
export const JWT_AUDIENCE = 'gossip' as const;

/** The claims of an access token. */
export interface AccessTokenClaims {
  /** The username. */
  sub: string;
  /**
   * The account's random id, fixed at registration: a token minted for a deleted account
   * never works for a later account of the same name.
   */
  uid: string;
  /** Always `access`. */
  typ: 'access';
  iss: typeof JWT_ISSUER;
  aud: typeof JWT_AUDIENCE;
  iat: number;
  exp: number;
}
