/**
 * Which connections may open: an access token verified by servicekit's `verifyAccessToken`
 * (the only verifier) whose session has not ended and whose account was not deleted, per the
 * api's marks in Redis (see @gossip/protocol `sessions.ts`). Used at the upgrade and for
 * `auth` frames.
 */
import {
  revokedAccountKey,
  revokedSessionKey,
  wsTicketKey,
  type ErrorCode,
} from '@gossip/protocol';
import {
  TokenError,
  verifyAccessToken,
  verifyWsTicket,
  type VerifiedToken,
  type VerificationKeys,
} from '@gossip/servicekit';
import type { Redis } from 'ioredis';

export type SessionCheck =
  | { ok: true; session: VerifiedToken }
  | { ok: false; code: Extract<ErrorCode, 'invalid_token' | 'token_expired' | 'unavailable'> };

export class SessionGuard {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly keys: VerificationKeys,
  ) {}

  /**
   * Verifies `token` and that neither its session nor its account (`uid`) is marked ended:
   * a token of a logged-out session, or of a deleted account (so also of an earlier account
   * with the same username) is refused (`invalid_token`). Redis unreachable: `unavailable`
   * (fail closed).
   */
  async check(token: string): Promise<SessionCheck> {
    let session: VerifiedToken;
    try {
      session = await verifyAccessToken(token, this.keys);
    } catch (err) {
      return { ok: false, code: err instanceof TokenError ? err.code : 'invalid_token' };
    }
    return this.checkMarks(session);
  }

  private async checkMarks(session: VerifiedToken): Promise<SessionCheck> {
    let marks: number;
    try {
      marks = await this.redis.exists(
        this.prefix + revokedSessionKey(session.sid),
        this.prefix + revokedAccountKey(session.uid),
      );
    } catch {
      return { ok: false, code: 'unavailable' };
    }
    if (marks > 0) return { ok: false, code: 'invalid_token' };
    return { ok: true, session };
  }

  /**
   * A single-use WebSocket ticket (browsers): verified like a token, then consumed in Redis
   * (a ticket whose id is not there, or was used, is refused), then the same session checks.
   * The socket inherits the expiry of the access token the ticket was issued for.
   */
  async checkTicket(ticket: string): Promise<SessionCheck> {
    let session: VerifiedToken;
    let jti: string;
    try {
      ({ jti, ...session } = await verifyWsTicket(ticket, this.keys));
    } catch (err) {
      return { ok: false, code: err instanceof TokenError ? err.code : 'invalid_token' };
    }
    try {
      // DEL is atomic: of two upgrades racing with one ticket, exactly one gets 1.
      if ((await this.redis.del(this.prefix + wsTicketKey(jti))) !== 1) {
        return { ok: false, code: 'invalid_token' };
      }
    } catch {
      return { ok: false, code: 'unavailable' };
    }
    return this.checkMarks(session);
  }
}
