/** Register, login, refresh and logout. */
import { randomUUID } from 'node:crypto';
import {
  API_PATHS,
  LoginRequest,
  LogoutRequest,
  RefreshRequest,
  RegisterRequest,
  Session,
} from '@gossip/protocol';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { isDuplicateKey } from '@gossip/store';
import type { AppContext } from '../context.js';
import { ApiError } from '../errors.js';
import { checkPublicKeys, keyFingerprint } from '../keys.js';
import type { UserDoc } from '../store.js';
import { toSession } from '../views.js';
import { JSON_BODY, NO_CONTENT, responses } from './responses.js';

/**
 * Replaces a hash made with older parameters, now that the password is known to be right.
 * Only if it is still the same hash (a concurrent password change wins), and best effort:
 * a full pool or a failed write leaves the old hash, which keeps working.
 */
async function rehash(
  ctx: AppContext,
  log: FastifyBaseLogger,
  username: string,
  password: string,
  stored: string,
): Promise<void> {
  try {
    const passwordHash = await ctx.passwords.hash(password);
    await ctx.c.users.updateOne(
      { _id: username, passwordHash: stored },
      { $set: { passwordHash } },
    );
    log.info({ user: username }, 'password re-hashed with the current parameters');
  } catch (err) {
    log.warn({ err, user: username }, 'could not re-hash the password');
  }
}

export function sessionRoutes(fastify: FastifyInstance, ctx: AppContext): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { c, config, limiter, metrics, tokens } = ctx;

  app.post(
    API_PATHS.register,
    {
      schema: {
        tags: ['sessions'],
        summary: 'Create an account with its public keys; returns a session.',
        body: RegisterRequest,
        response: responses(
          { 201: Session },
          JSON_BODY,
          'rate_limited',
          'invalid_key',
          'username_taken',
        ),
      },
    },
    async (req, reply) => {
      const limit = await limiter.hit('register_ip', req.ip, config.limits.registerPerIp);
      if (!limit.allowed) {
        metrics.rateLimited.inc({ limit: 'register_ip' });
        throw new ApiError('rate_limited', undefined, { retryAfter: limit.retryAfter });
      }
      const body = req.body;
      await checkPublicKeys(body.keys);
      if (await c.users.findOne({ _id: body.username }, { projection: { _id: 1 } })) {
        throw new ApiError('username_taken');
      }
      const now = new Date(ctx.now());
      const user: UserDoc = {
        _id: body.username,
        uid: randomUUID(),
        passwordHash: await ctx.passwords.hash(body.password),
        displayName: body.displayName ?? null,
        keys: { wrappingKey: body.keys.wrappingKey, signingKey: body.keys.signingKey },
        keyVersion: 1,
        fingerprint: await keyFingerprint(body.username, body.keys),
        keysUpdatedAt: now,
        avatar: null,
        createdAt: now,
      };
      try {
        await c.users.insertOne(user);
      } catch (err) {
        // Two registrations racing for one name: the _id keeps exactly one.
        if (isDuplicateKey(err)) {
          throw new ApiError('username_taken');
        }
        throw err;
      }
      metrics.registrations.inc();
      req.log.info({ user: user._id }, 'account registered');
      const issued = await tokens.issue({ username: user._id, uid: user.uid });
      return reply.status(201).send(toSession(user, issued));
    },
  );

  app.post(
    API_PATHS.login,
    {
      schema: {
        tags: ['sessions'],
        summary: 'Log in; the same error for an unknown user and a wrong password.',
        body: LoginRequest,
        response: responses({ 200: Session }, JSON_BODY, 'rate_limited', 'invalid_credentials'),
      },
    },
    async (req) => {
      const { username, password } = req.body;
      // Both limits count every attempt, before any password work, so a throttled
      // guesser learns nothing even when it finally guesses right. The username is only
      // throttled together with the address: a stranger's failures slow the stranger,
      // never the owner logging in from elsewhere (no lockout of the name for everyone).
      try {
        await limiter.enforce('login_ip', req.ip, config.limits.loginPerIp);
        await limiter.loginAttempt(username, req.ip, config.limits.login, ctx.now());
      } catch (err) {
        if (err instanceof ApiError) metrics.logins.inc({ result: 'rate_limited' });
        throw err;
      }
      const user = await c.users.findOne({ _id: username });
      const stored = user?.passwordHash ?? (await ctx.dummyHash);
      const ok = await ctx.passwords.verify(password, stored);
      if (!user || !ok) {
        metrics.logins.inc({ result: 'failed' });
        throw new ApiError('invalid_credentials');
      }
      await limiter.loginSucceeded(username, req.ip);
      if (ctx.passwords.outdated(stored)) await rehash(ctx, req.log, username, password, stored);
      metrics.logins.inc({ result: 'ok' });
      req.log.info({ user: user._id }, 'logged in');
      return toSession(user, await tokens.issue({ username: user._id, uid: user.uid }));
    },
  );

  app.post(
    API_PATHS.refresh,
    {
      schema: {
        tags: ['sessions'],
        summary: 'Trade a refresh token (single use) for a new access and refresh token.',
        body: RefreshRequest,
        response: responses({ 200: Session }, JSON_BODY, 'invalid_token'),
      },
    },
    async (req) => {
      const who = await tokens.consume(req.body.refreshToken);
      const user = await c.users.findOne({ _id: who.username });
      if (!user || user.uid !== who.uid) throw new ApiError('invalid_token');
      return toSession(user, await tokens.issue(who, who));
    },
  );

  app.post(
    API_PATHS.logout,
    {
      schema: {
        tags: ['sessions'],
        summary: 'Revoke the session of this refresh token. Always 204.',
        body: LogoutRequest,
        response: responses({ 204: NO_CONTENT }, JSON_BODY),
      },
    },
    async (req, reply) => {
      await tokens.revoke(req.body.refreshToken);
      return reply.status(204).send();
    },
  );
}
