/** The `authenticate` hook: a valid Bearer access token of an account that still exists. */
import type { FastifyRequest } from 'fastify';
import type { AppContext, AuthUser } from './context.js';
import { ApiError } from './errors.js';

export function authenticate(ctx: AppContext) {
  return async function authenticateRequest(req: FastifyRequest): Promise<void> {
    const header = req.headers.authorization;
    if (typeof header !== 'string' || !/^Bearer \S+$/.test(header)) {
      throw new ApiError('unauthorized');
    }
    const who = await ctx.tokens.verifyAccess(header.slice('Bearer '.length));
    // A deleted account, or a later account of the same name, makes the token useless.
    const user = await ctx.c.users.findOne({ _id: who.username }, { projection: { uid: 1 } });
    if (!user || user.uid !== who.uid) throw new ApiError('invalid_token');
    req.user = who;
  };
}

/** The caller set by {@link authenticate} (routes that use it only). */
export function caller(req: FastifyRequest): AuthUser {
  if (!req.user) throw new ApiError('unauthorized');
  return req.user;
}
