/** The v2 key directory's routes (issue 16): thin over prekeys.ts. */
import {
  API_PATHS,
  PrekeyBundle,
  PrekeyStatus,
  UploadPrekeysRequest,
  UsernameParams,
} from '@gossip/protocol';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { authenticate, caller } from '../auth.js';
import type { AppContext } from '../context.js';
import { ApiError } from '../errors.js';
import { fetchPrekeyBundle, prekeyStatus, uploadPrekeys } from '../prekeys.js';
import { AUTHENTICATED, CHECKED_URL, JSON_BODY, responses, security } from './responses.js';

const tags = ['keys'];

export function prekeyRoutes(fastify: FastifyInstance, ctx: AppContext): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const onRequest = authenticate(ctx);

  app.get(
    API_PATHS.myPrekeys,
    {
      onRequest,
      schema: {
        tags,
        summary: 'What you have published: identity key, signed prekey, one-time prekeys left.',
        security,
        response: responses({ 200: PrekeyStatus }, AUTHENTICATED),
      },
    },
    async (req) => {
      const user = await ctx.c.users.findOne({ _id: caller(req).username });
      if (!user) throw new ApiError('invalid_token');
      return prekeyStatus(ctx, user);
    },
  );

  app.put(
    API_PATHS.myPrekeys,
    {
      onRequest,
      schema: {
        tags,
        summary:
          'Set the X25519 identity key (fixed until a key change), replace the signed prekey ' +
          'and add one-time prekeys, each signature by your published signing key. All or ' +
          'nothing. Rate limited per user.',
        security,
        body: UploadPrekeysRequest,
        response: responses(
          { 200: PrekeyStatus },
          AUTHENTICATED,
          JSON_BODY,
          'invalid_key',
          'invalid_prekey_signature',
          'prekey_id_taken',
          'identity_key_conflict',
          'prekey_limit_exceeded',
          'rate_limited',
        ),
      },
    },
    async (req) => {
      const { username } = caller(req);
      const status = await uploadPrekeys(ctx, username, req.body);
      req.log.info(
        {
          user: username,
          signedPrekeyId: status.signedPrekeyId,
          added: req.body.oneTimePrekeys?.length ?? 0,
          oneTimePrekeys: status.oneTimePrekeys,
        },
        'prekeys uploaded',
      );
      return status;
    },
  );

  app.get(
    API_PATHS.userPrekeyBundle,
    {
      onRequest,
      schema: {
        tags,
        summary:
          "A user's prekey bundle for X3DH; hands out one of their one-time prekeys (none " +
          'when all are gone). Rate limited per caller.',
        security,
        params: UsernameParams,
        response: responses(
          { 200: PrekeyBundle },
          AUTHENTICATED,
          CHECKED_URL,
          'user_not_found',
          'prekeys_not_found',
          'rate_limited',
        ),
      },
    },
    async (req) => fetchPrekeyBundle(ctx, caller(req).username, req.params.username),
  );
}
