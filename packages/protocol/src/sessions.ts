/**
 * How the api tells every gateway that sessions have ended, through Redis (after the
 * deployment's key prefix, `gossip:` by default). Defined once for both sides.
 *
 * - `revoked:session:<sid>` exists for an access-token lifetime after the session (refresh-
 *   token family) `sid` ended, and `revoked:account:<uid>` after the account `uid` was
 *   deleted. A gateway refuses a token whose `sid` or `uid` is marked, at the upgrade and in
 *   `auth` frames, so neither an ended session nor an earlier account of the same username
 *   gets back in. (Past an access-token lifetime such tokens have expired anyway.)
 * - The `sessions` channel carries a {@link RevocationMessage} whenever sessions end, so
 *   gateways close the matching sockets at once with `CLOSE_CODES.sessionRevoked`.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Username } from './primitives.js';

/** Redis key (after the prefix) marking the session `sid` as ended. */
export function revokedSessionKey(sid: string): string {
  return `revoked:session:${sid}`;
}

/** Redis key (after the prefix) marking the account `uid` as deleted. */
export function revokedAccountKey(uid: string): string {
  return `revoked:account:${uid}`;
}

/**
 * Redis key (after the prefix) of an unused WebSocket ticket `jti`: the api sets it when it
 * issues the ticket (with the ticket's lifetime), the gateway deletes it to use the ticket,
 * so each ticket opens at most one socket.
 */
export function wsTicketKey(jti: string): string {
  return `ws-ticket:${jti}`;
}

/** Redis pub/sub channel (after the prefix) of {@link RevocationMessage}s. */
export const REVOCATIONS_CHANNEL = 'sessions';

/** Why sessions ended (logged by the gateway; the close code is the same for all). */
export const RevocationReason = Type.Union([
  Type.Literal('logout'),
  Type.Literal('logout_all'),
  Type.Literal('account_deleted'),
  Type.Literal('password_changed'),
  Type.Literal('refresh_reuse'),
  Type.Literal('session_revoked'),
]);
export type RevocationReason = Static<typeof RevocationReason>;

/**
 * Sessions of `user` that ended: those in `sids`, or (no `sids`) all of them except those in
 * `except` (a password change keeps the session that made it).
 */
export const RevocationMessage = Type.Object(
  {
    user: Username,
    sids: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 1000 }),
    ),
    except: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 10 }),
    ),
    reason: RevocationReason,
  },
  { additionalProperties: false },
);
export type RevocationMessage = Static<typeof RevocationMessage>;
