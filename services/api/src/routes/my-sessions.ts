/**
 * The caller's sessions: list them, end one or all (logout everywhere), change the password
 * (which ends every other session), and get a single-use WebSocket ticket. Every ending
 * closes the session's sockets on every gateway (see `SessionRegistry`).
 */
import {
  API_PATHS,
  ChangePasswordRequest,
  SessionId,
  SessionList,
  WsTicket,
} from '@gossip/protocol';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { authenticate, caller } from '../auth.js';
import type { AppContext } from '../context.js';
import { ApiError } from '../errors.js';
import * as r from './responses.js';

export function mySessionRoutes(fastify: FastifyInstance, ctx: AppContext): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { c, config, limiter, tokens } = ctx;
  const onRequest = authenticate(ctx);

  app.get(
    API_PATHS.mySessions,
    {
      onRequest,
      schema: {
        tags: ['sessions'],
        summary: 'Your sessions, newest first; `current` is the one asking.',
        security: r.security,
        response: r.responses({ 200: SessionList }, r.AUTHENTICATED),
      },
    },
    async (req) => {
      const me = caller(req);
      const sessions = await tokens.list(me.username);
      return {
        sessions: sessions.map((s) => ({
          id: s.id,
          createdAt: s.createdAt.toISOString(),
          lastUsedAt: s.lastUsedAt.toISOString(),
          current: s.id === me.sid,
        })),
      };
    },
  );

  app.delete(
    API_PATHS.mySessions,
    {
      onRequest,
      schema: {
        tags: ['sessions'],
        summary: 'End every session of your account, this one included (logout everywhere).',
        security: r.security,
        response: r.responses({ 204: r.NO_CONTENT }, r.AUTHENTICATED, r.UNUSED_BODY),
      },
    },
    async (req, reply) => {
      const me = caller(req);
      await tokens.revokeUser(me.username, 'logout_all');
      req.log.info({ user: me.username }, 'logged out everywhere');
      return reply.status(204).send();
    },
  );

  app.delete(
    API_PATHS.mySession,
    {
      onRequest,
      schema: {
        tags: ['sessions'],
        summary: 'End one of your sessions by id (404 when you have none with that id).',
        security: r.security,
        params: Type.Object({ id: SessionId }),
        response: r.responses(
          { 204: r.NO_CONTENT },
          r.AUTHENTICATED,
          r.UNUSED_BODY,
          r.CHECKED_URL,
          'not_found',
        ),
      },
    },
    async (req, reply) => {
      const me = caller(req);
      if (!(await tokens.revokeSession(me.username, req.params.id))) {
        throw new ApiError('not_found', 'You have no session with that id.');
      }
      return reply.status(204).send();
    },
  );

  app.post(
    API_PATHS.myPassword,
    {
      onRequest,
      schema: {
        tags: ['sessions'],
        summary: 'Change your password (needs the current one); ends every other session.',
        security: r.security,
        body: ChangePasswordRequest,
        response: r.responses(
          { 204: r.NO_CONTENT },
          r.AUTHENTICATED,
          r.JSON_BODY,
          r.PASSWORD_CHECKED,
        ),
      },
    },
    async (req, reply) => {
      const me = caller(req);
      // The current password is checked here, so a stolen access token may guess it only
      // slowly: the same budget as account deletion, under its own counter.
      const limit = await limiter.hit('password_user', me.username, config.limits.deletePerUser);
      if (!limit.allowed)
        throw new ApiError('rate_limited', undefined, { retryAfter: limit.retryAfter });
      const user = await c.users.findOne({ _id: me.username, uid: me.uid });
      if (!user) throw new ApiError('invalid_token');
      if (!(await ctx.passwords.verify(req.body.currentPassword, user.passwordHash))) {
        throw new ApiError('invalid_credentials');
      }
      const passwordHash = await ctx.passwords.hash(req.body.newPassword);
      await c.users.updateOne({ _id: user._id, uid: user.uid }, { $set: { passwordHash } });
      await tokens.revokeUser(me.username, 'password_changed', { keep: me.sid });
      req.log.info({ user: me.username }, 'password changed; other sessions ended');
      return reply.status(204).send();
    },
  );

  app.post(
    API_PATHS.wsTicket,
    {
      onRequest,
      schema: {
        tags: ['sessions'],
        summary: 'A single-use WebSocket ticket (`?ticket=` on the gateway URL), short-lived.',
        security: r.security,
        response: r.responses({ 200: WsTicket }, r.AUTHENTICATED, r.UNUSED_BODY),
      },
    },
    async (req) => tokens.issueTicket(caller(req)),
  );
}
