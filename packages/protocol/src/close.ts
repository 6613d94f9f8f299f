/**
 * WebSocket close codes a gateway uses, defined once for the gateway, the SDK and the docs
 * (docs/protocol.md). 4000-4999 are for applications (RFC 6455 §7.4.2); Gossip's mirror the
 * HTTP status of the same meaning where there is one.
 */
export const CLOSE_CODES = {
  /**
   * The connection kept sending frames past its rate limit after `rate_limited` errors
   * (`GATEWAY_RATE_VIOLATIONS_MAX` of them without a pause): reconnect later, slower.
   */
  rateLimited: 4429,
  /**
   * The connection's access token expired and no `auth` frame renewed it: refresh the
   * session and reconnect (or send `auth` earlier next time).
   */
  tokenExpired: 4401,
  /**
   * The session was ended (logout, logout everywhere, password change, refresh-token reuse)
   * or the account deleted: do not reconnect with this session; log in again.
   */
  sessionRevoked: 4403,
} as const;

export type CloseCode = (typeof CLOSE_CODES)[keyof typeof CLOSE_CODES];
