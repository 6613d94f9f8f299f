/**
 * Sessions: short-lived EdDSA access tokens (JWT, verified by the api and the gateway)
 * and long-lived opaque refresh tokens. A refresh token is 256 random bits; only its
 * SHA-256 is stored. Each refresh uses it up and returns a new one in the same family (the
 * session, `sid` in access tokens); presenting a used one again revokes the whole family
 * (it was stolen or replayed), except for a retry: within API_REFRESH_RETRY_GRACE_SECONDS of
 * the use, while the token that use issued has never been used, the client evidently lost
 * the answer, so a new pair is issued and the unused one is kept as a tombstone: whoever
 * presents it later revokes the family, so a thief racing the owner within the grace cannot
 * quietly take the session over.
 *
 * A session lives at most API_SESSION_MAX_AGE_SECONDS from its login, however often it is
 * refreshed. Every ending (logout, revocation, reuse, password change, account deletion)
 * goes through the {@link SessionRegistry}, which closes the session's sockets on every
 * gateway.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { COLLECTIONS, type RevocationReason, type WsTicket } from '@gossip/protocol';
import {
  TokenError,
  signAccessToken,
  signWsTicket,
  verifyAccessToken,
  type VerifiedToken,
} from '@gossip/servicekit';
import type { Collection, Db } from 'mongodb';
import type { ApiConfig } from './config.js';
import { ApiError } from './errors.js';
import type { SessionRegistry } from './session-registry.js';

/** A refresh token as stored: never the token itself. */
export interface RefreshTokenDoc {
  /** SHA-256 (hex) of the token. */
  _id: string;
  username: string;
  uid: string;
  /** The session id (`sid` of its access tokens). */
  family: string;
  createdAt: Date;
  expiresAt: Date;
  usedAt: Date | null;
  /** The token whose use issued this one (absent for a login's first token). */
  parent?: string;
  /** When the session began (its login); older docs lack it and count from createdAt. */
  sessionStartedAt?: Date;
  /**
   * Set on an unused token a retry replaced: it can never be used, and presenting it
   * revokes the family (its owner or a thief holds it; either way the session is unsafe).
   */
  tombstone?: true;
}

export interface Identity {
  username: string;
  uid: string;
}

/** A used-up refresh token: whose it was, its session, and what the next pair continues. */
export interface Consumed extends Identity {
  family: string;
  parent: string;
  sessionStartedAt: Date;
}

export interface IssuedTokens {
  accessToken: string;
  expiresIn: number;
  refreshToken: string;
  refreshExpiresIn: number;
}

/** One session as the session list shows it. */
export interface SessionInfo {
  id: string;
  createdAt: Date;
  lastUsedAt: Date;
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class TokenService {
  private readonly tokens: Collection<RefreshTokenDoc>;

  constructor(
    db: Db,
    readonly registry: SessionRegistry,
    private readonly config: ApiConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = db.collection<RefreshTokenDoc>(COLLECTIONS.refreshTokens);
  }

  /**
   * A new access token and refresh token. A login starts a session; a refresh continues
   * `from` (the token it used up: its family, and the session's start for the max age).
   */
  async issue(who: Identity, from?: Consumed): Promise<IssuedTokens> {
    const nowMs = this.now();
    const family = from?.family ?? randomUUID();
    const startedAt = from?.sessionStartedAt ?? new Date(nowMs);
    const endOfSession = startedAt.getTime() + this.config.sessionMaxAgeSeconds * 1000;
    const expiresAt = Math.min(nowMs + this.config.refreshTokenTtlSeconds * 1000, endOfSession);
    const accessToken = await signAccessToken(
      { username: who.username, uid: who.uid, sid: family },
      this.config.jwtKeys.signing,
      this.config.accessTokenTtlSeconds,
      nowMs,
    );
    const refreshToken = randomBytes(32).toString('base64url');
    await this.tokens.insertOne({
      _id: digest(refreshToken),
      username: who.username,
      uid: who.uid,
      family,
      createdAt: new Date(nowMs),
      expiresAt: new Date(expiresAt),
      usedAt: null,
      sessionStartedAt: startedAt,
      ...(from === undefined ? {} : { parent: from.parent }),
    });
    return {
      accessToken,
      expiresIn: this.config.accessTokenTtlSeconds,
      refreshToken,
      refreshExpiresIn: Math.floor((expiresAt - nowMs) / 1000),
    };
  }

  /**
   * Verifies an access token (servicekit `verifyAccessToken`, as the gateway does) and that
   * its session has not ended.
   */
  async verifyAccess(token: string): Promise<VerifiedToken> {
    let who: VerifiedToken;
    try {
      who = await verifyAccessToken(token, this.config.jwtKeys.verification, this.now());
    } catch (err) {
      if (err instanceof TokenError) throw new ApiError(err.code);
      throw err;
    }
    if (await this.registry.isRevoked(who.sid, who.uid)) {
      throw new ApiError('invalid_token', 'The session has ended; log in again.');
    }
    return who;
  }

  /**
   * Uses up a refresh token. Returns whose it was and its session, or throws
   * `invalid_token` (unknown, expired, used, or past the session's maximum age; a reuse
   * revokes the family).
   */
  async consume(refreshToken: string): Promise<Consumed> {
    const id = digest(refreshToken);
    const now = new Date(this.now());
    const marked = await this.tokens.updateOne(
      { _id: id, usedAt: null, expiresAt: { $gt: now }, tombstone: { $exists: false } },
      { $set: { usedAt: now } },
    );
    const doc = await this.tokens.findOne({ _id: id });
    const consumed = (d: RefreshTokenDoc): Consumed => ({
      username: d.username,
      uid: d.uid,
      family: d.family,
      parent: id,
      sessionStartedAt: d.sessionStartedAt ?? d.createdAt,
    });
    if (marked.modifiedCount !== 1 || !doc) {
      if (doc?.usedAt && !doc.tombstone && (await this.isRetry(doc, now))) return consumed(doc);
      if (doc?.usedAt || doc?.tombstone) {
        // Replay of a used (or replaced) token: someone else holds the session. End it.
        await this.endFamily(doc, 'refresh_reuse');
      } else if (doc) {
        await this.tokens.deleteOne({ _id: id });
      }
      throw new ApiError('invalid_token', 'The refresh token is invalid, expired or used.');
    }
    const started = doc.sessionStartedAt ?? doc.createdAt;
    if (now.getTime() >= started.getTime() + this.config.sessionMaxAgeSeconds * 1000) {
      await this.endFamily(doc, 'session_revoked');
      throw new ApiError('invalid_token', 'The session has reached its maximum age; log in again.');
    }
    // Tidy: expired tokens of this user are of no use to anyone.
    await this.tokens.deleteMany({ username: doc.username, expiresAt: { $lte: now } });
    return consumed(doc);
  }

  /**
   * Whether a second use of `doc` is its owner retrying: soon enough, not expired, and
   * the token its first use issued was never used. Then that token becomes a tombstone
   * (never usable; presenting it revokes the family) and a new pair is issued. Anything
   * else is a replay.
   */
  private async isRetry(doc: RefreshTokenDoc, now: Date): Promise<boolean> {
    const graceMs = this.config.refreshRetryGraceSeconds * 1000;
    if (!doc.usedAt || graceMs === 0) return false;
    if (now.getTime() - doc.usedAt.getTime() > graceMs || doc.expiresAt <= now) return false;
    const successors = await this.tokens.find({ parent: doc._id }).toArray();
    if (successors.some((t) => t.usedAt !== null && !t.tombstone)) return false;
    const open = successors.filter((t) => !t.tombstone).map((t) => t._id);
    if (open.length > 0) {
      await this.tokens.updateMany({ _id: { $in: open } }, { $set: { tombstone: true } });
    }
    return true;
  }

  private async endFamily(doc: RefreshTokenDoc, reason: RevocationReason): Promise<void> {
    await this.tokens.deleteMany({ family: doc.family });
    await this.registry.end(doc.username, [doc.family], reason);
  }

  /** Revokes the session (family) a refresh token belongs to. Unknown tokens are ignored. */
  async revoke(refreshToken: string): Promise<void> {
    const doc = await this.tokens.findOne({ _id: digest(refreshToken) });
    if (doc) await this.endFamily(doc, 'logout');
  }

  /** Revokes one session of `username` by id; false when it has no such session. */
  async revokeSession(username: string, sid: string): Promise<boolean> {
    const gone = await this.tokens.deleteMany({ username, family: sid });
    if (gone.deletedCount === 0) return false;
    await this.registry.end(username, [sid], 'session_revoked');
    return true;
  }

  /**
   * Revokes every session of a user, except `keep` (a password change keeps the session
   * that made it), and closes their sockets on every gateway.
   */
  async revokeUser(
    username: string,
    reason: RevocationReason,
    opts: { keep?: string; deletedUid?: string } = {},
  ): Promise<void> {
    const keep = opts.keep;
    const families = (await this.tokens.distinct('family', { username })) as string[];
    const ending = families.filter((f) => f !== keep);
    await this.tokens.deleteMany(
      keep === undefined ? { username } : { username, family: { $ne: keep } },
    );
    await this.registry.end(username, ending, reason, {
      all: true,
      ...(keep === undefined ? {} : { except: [keep] }),
      ...(opts.deletedUid === undefined ? {} : { deletedUid: opts.deletedUid }),
    });
  }

  /**
   * A single-use WebSocket ticket for the holder of the access token `of`: signed like a
   * token (so Redis cannot forge one), short-lived, and usable once (its id is in Redis
   * until the gateway consumes it). Browsers put it in the WebSocket URL instead of the
   * access token, so a logged URL is worthless.
   */
  async issueTicket(of: VerifiedToken): Promise<WsTicket> {
    const jti = randomUUID();
    const ttl = this.config.wsTicketTtlSeconds;
    const ticket = await signWsTicket(of, jti, this.config.jwtKeys.signing, ttl, this.now());
    await this.registry.expectTicket(jti, ttl);
    return { ticket, expiresIn: ttl };
  }

  /** The live sessions of a user, newest first. */
  async list(username: string): Promise<SessionInfo[]> {
    const now = new Date(this.now());
    const docs = await this.tokens
      .find(
        { username, expiresAt: { $gt: now } },
        { projection: { family: 1, createdAt: 1, sessionStartedAt: 1 } },
      )
      .toArray();
    const byFamily = new Map<string, SessionInfo>();
    for (const d of docs) {
      const started = d.sessionStartedAt ?? d.createdAt;
      const s = byFamily.get(d.family);
      if (!s) {
        byFamily.set(d.family, { id: d.family, createdAt: started, lastUsedAt: d.createdAt });
        continue;
      }
      if (started < s.createdAt) s.createdAt = started;
      if (d.createdAt > s.lastUsedAt) s.lastUsedAt = d.createdAt;
    }
    return [...byFamily.values()].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  }
}
