/**
 * Tells the gateways which sessions have ended, through Redis (names in @gossip/protocol
 * `sessions.ts`): each ended session (and each deleted account) is marked for an
 * access-token lifetime, so its tokens are refused at every gateway upgrade and by the api
 * itself, and the ending is published on the revocations channel so every gateway closes
 * the matching sockets at once.
 */
import {
  REVOCATIONS_CHANNEL,
  revokedAccountKey,
  revokedSessionKey,
  wsTicketKey,
  type RevocationMessage,
  type RevocationReason,
} from '@gossip/protocol';
import type { Redis } from 'ioredis';

export class SessionRegistry {
  /**
   * @param markSeconds how long a mark lasts: at least an access-token lifetime, after which
   *   every token of the ended session has expired anyway
   */
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly markSeconds: number,
  ) {}

  /** Records an issued WebSocket ticket, usable once within `ttlSeconds`. */
  async expectTicket(jti: string, ttlSeconds: number): Promise<void> {
    await this.redis.set(this.prefix + wsTicketKey(jti), '1', 'EX', ttlSeconds);
  }

  /** Whether the session `sid` ended or the account `uid` was deleted. */
  async isRevoked(sid: string, uid: string): Promise<boolean> {
    const marks = await this.redis.exists(
      this.prefix + revokedSessionKey(sid),
      this.prefix + revokedAccountKey(uid),
    );
    return marks > 0;
  }

  /**
   * Ends sessions of `user` (`sids`) and tells the gateways. With `all`, the gateways close
   * every socket of the user except those of the sessions in `except`; with `deletedUid`,
   * every token of that account is refused from now on.
   */
  async end(
    user: string,
    sids: readonly string[],
    reason: RevocationReason,
    opts: { all?: boolean; except?: readonly string[]; deletedUid?: string } = {},
  ): Promise<void> {
    if (!opts.all && sids.length === 0) return;
    const m = this.redis.multi();
    for (const sid of sids)
      m.set(this.prefix + revokedSessionKey(sid), reason, 'EX', this.markSeconds);
    if (opts.deletedUid !== undefined) {
      m.set(this.prefix + revokedAccountKey(opts.deletedUid), reason, 'EX', this.markSeconds);
    }
    const msg: RevocationMessage = opts.all
      ? { user, reason, ...(opts.except?.length ? { except: [...opts.except] } : {}) }
      : { user, sids: [...sids], reason };
    m.publish(this.prefix + REVOCATIONS_CHANNEL, JSON.stringify(msg));
    await m.exec();
  }
}
