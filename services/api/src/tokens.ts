/**
 * Sessions: short-lived EdDSA access tokens (JWT, verified by the api and the gateway)
 * and long-lived opaque refresh tokens. A refresh token is 256 random bits; only its
 * SHA-256 is stored. Each refresh uses it up and returns a new one in the same family;
 * presenting a used one again revokes the whole family (it was stolen or replayed),
 * except for a retry: within API_REFRESH_RETRY_GRACE_SECONDS of the use, while the token
 * that use issued has never been used, the client evidently lost the answer, so that
 * token is dropped and a new pair issued.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { COLLECTIONS } from '@gossip/protocol';
import { TokenError, signAccessToken, verifyAccessToken } from '@gossip/servicekit';
import type { Collection, Db } from 'mongodb';
import type { ApiConfig } from './config.js';
import { ApiError } from './errors.js';

/** A refresh token as stored: never the token itself. */
export interface RefreshTokenDoc {
  /** SHA-256 (hex) of the token. */
  _id: string;
  username: string;
  uid: string;
  family: string;
  createdAt: Date;
  expiresAt: Date;
  usedAt: Date | null;
  /** The token whose use issued this one (absent for a login's first token). */
  parent?: string;
}

export interface Identity {
  username: string;
  uid: string;
}

export interface IssuedTokens {
  accessToken: string;
  expiresIn: number;
  refreshToken: string;
  refreshExpiresIn: number;
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class TokenService {
  private readonly tokens: Collection<RefreshTokenDoc>;
  private readonly config: ApiConfig;
  private readonly now: () => number;

  constructor(db: Db, config: ApiConfig, now: () => number = Date.now) {
    this.tokens = db.collection<RefreshTokenDoc>(COLLECTIONS.refreshTokens);
    this.config = config;
    this.now = now;
  }

  /**
   * A new access token and refresh token; `family` continues a session on refresh and
   * `parent` is the token that refresh used up.
   */
  async issue(
    who: Identity,
    family: string = randomUUID(),
    parent?: string,
  ): Promise<IssuedTokens> {
    const accessToken = await signAccessToken(
      { username: who.username, uid: who.uid, sid: family },
      this.config.jwtKeys.signing,
      this.config.accessTokenTtlSeconds,
      this.now(),
    );
    const refreshToken = randomBytes(32).toString('base64url');
    await this.tokens.insertOne({
      _id: digest(refreshToken),
      username: who.username,
      uid: who.uid,
      family,
      createdAt: new Date(this.now()),
      expiresAt: new Date(this.now() + this.config.refreshTokenTtlSeconds * 1000),
      usedAt: null,
      ...(parent === undefined ? {} : { parent }),
    });
    return {
      accessToken,
      expiresIn: this.config.accessTokenTtlSeconds,
      refreshToken,
      refreshExpiresIn: this.config.refreshTokenTtlSeconds,
    };
  }

  /** Verifies an access token (servicekit `verifyAccessToken`, as the gateway does). */
  async verifyAccess(token: string): Promise<Identity & { sid: string }> {
    try {
      const t = await verifyAccessToken(token, this.config.jwtKeys.verification, this.now());
      return { username: t.username, uid: t.uid, sid: t.sid };
    } catch (err) {
      if (err instanceof TokenError) throw new ApiError(err.code);
      throw err;
    }
  }

  /**
   * Uses up a refresh token. Returns whose it was and its family, or throws
   * `invalid_token` (unknown, expired or already used; a reuse revokes the family).
   */
  async consume(refreshToken: string): Promise<Identity & { family: string; parent: string }> {
    const id = digest(refreshToken);
    const now = new Date(this.now());
    const marked = await this.tokens.updateOne(
      { _id: id, usedAt: null, expiresAt: { $gt: now } },
      { $set: { usedAt: now } },
    );
    const doc = await this.tokens.findOne({ _id: id });
    if (marked.modifiedCount !== 1 || !doc) {
      if (doc?.usedAt && (await this.isRetry(doc, now))) {
        return { username: doc.username, uid: doc.uid, family: doc.family, parent: id };
      }
      if (doc?.usedAt) {
        // Replay of a used token: someone else holds the session. End it everywhere.
        await this.tokens.deleteMany({ family: doc.family });
      } else if (doc) {
        await this.tokens.deleteOne({ _id: id });
      }
      throw new ApiError('invalid_token', 'The refresh token is invalid, expired or used.');
    }
    // Tidy: expired tokens of this user are of no use to anyone.
    await this.tokens.deleteMany({ username: doc.username, expiresAt: { $lte: now } });
    return { username: doc.username, uid: doc.uid, family: doc.family, parent: id };
  }

  /**
   * Whether a second use of `doc` is its owner retrying: soon enough, not expired, and
   * the token its first use issued was never used (then that token is dropped, as its
   * owner never got it). Anything else is a replay.
   */
  private async isRetry(doc: RefreshTokenDoc, now: Date): Promise<boolean> {
    const graceMs = this.config.refreshRetryGraceSeconds * 1000;
    if (!doc.usedAt || graceMs === 0) return false;
    if (now.getTime() - doc.usedAt.getTime() > graceMs || doc.expiresAt <= now) return false;
    const successors = await this.tokens.find({ parent: doc._id }).toArray();
    if (successors.some((t) => t.usedAt !== null)) return false;
    if (successors.length > 0) {
      await this.tokens.deleteMany({ _id: { $in: successors.map((t) => t._id) } });
    }
    return true;
  }

  /** Revokes the session (family) a refresh token belongs to. Unknown tokens are ignored. */
  async revoke(refreshToken: string): Promise<void> {
    const doc = await this.tokens.findOne({ _id: digest(refreshToken) });
    if (doc) await this.tokens.deleteMany({ family: doc.family });
  }

  /** Revokes every session of a user. */
  async revokeUser(username: string): Promise<void> {
    await this.tokens.deleteMany({ username });
  }
}
