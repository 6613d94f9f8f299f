/**
 * Access tokens: JWTs signed with EdDSA (Ed25519) by the api, with a `kid` header naming
 * the key. The api holds the private keys (`API_JWT_PRIVATE_KEYS`); gateways hold only
 * the public keys (`GATEWAY_JWT_PUBLIC_KEYS`), both JSON JWK sets. Verifiers must check
 * the algorithm, key id, issuer, audience, `typ` and expiry.
 */

export const JWT_ALG = 'EdDSA' as const;

/**
 * The environment variables that carry the keys, named once: the api's private JWK set
 * (its first key signs; all verify) and the gateways' public JWK set.
 */
export const JWT_KEY_ENV = {
  apiPrivateKeys: 'API_JWT_PRIVATE_KEYS',
  gatewayPublicKeys: 'GATEWAY_JWT_PUBLIC_KEYS',
} as const;
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
  /**
   * The session: the id of the refresh-token family the token was issued in. Revoking the
   * session (logout, password change, refresh-token reuse) closes sockets opened with it.
   */
  sid: string;
  /** Always `access`. */
  typ: 'access';
  iss: typeof JWT_ISSUER;
  aud: typeof JWT_AUDIENCE;
  iat: number;
  exp: number;
}
