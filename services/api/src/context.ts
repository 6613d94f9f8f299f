/** What route modules share: config, stores and helpers, built once per app. */
import type { Db } from 'mongodb';
import type { Redis } from 'ioredis';
import type { AttachmentService } from './attachments.js';
import type { AvatarStore } from './avatars.js';
import type { ApiConfig } from './config.js';
import type { EventSink } from './events.js';
import type { ApiMetrics } from './metrics.js';
import type { PasswordHasher } from './passwords.js';
import type { RateLimiter } from './ratelimit.js';
import type { Collections } from './store.js';
import type { TokenService } from './tokens.js';

export interface AppContext {
  config: ApiConfig;
  db: Db;
  redis: Redis;
  c: Collections;
  tokens: TokenService;
  limiter: RateLimiter;
  events: EventSink;
  avatars: AvatarStore;
  attachments: AttachmentService;
  metrics: ApiMetrics;
  /** Hashes and checks passwords in a bounded pool. */
  passwords: PasswordHasher;
  /** Verified against for unknown usernames so every failed login costs the same. */
  dummyHash: Promise<string>;
  now: () => number;
}

/** The authenticated caller, set by the `authenticate` hook. */
export interface AuthUser {
  username: string;
  uid: string;
  /** The session of the access token (refresh-token family id). */
  sid: string;
  /** The access token's expiry (seconds since the epoch). */
  exp: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    user: AuthUser | null;
  }
}
