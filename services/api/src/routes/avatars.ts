/** Avatar upload, download and removal. */
import {
  API_PATHS,
  AVATAR_CONTENT_TYPES,
  MAX_AVATAR_BYTES,
  Me,
  UsernameParams,
} from '@gossip/protocol';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { authenticate, caller } from '../auth.js';
import { sniffImageType } from '../avatars.js';
import type { AppContext } from '../context.js';
import { ApiError } from '../errors.js';
import { toMe } from '../views.js';
import { AUTHENTICATED, CHECKED_URL, responses, security, UNUSED_BODY } from './responses.js';

export async function avatarRoutes(fastify: FastifyInstance, ctx: AppContext): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { c, avatars } = ctx;
  const onRequest = authenticate(ctx);

  // Image bodies are parsed only inside this plugin scope: elsewhere they are a 415.
  await app.register(async (scope) => {
    scope.addContentTypeParser(
      [...AVATAR_CONTENT_TYPES],
      { parseAs: 'buffer', bodyLimit: MAX_AVATAR_BYTES },
      (_req, body, done) => done(null, body),
    );

    scope.put(
      API_PATHS.myAvatar,
      {
        onRequest,
        bodyLimit: MAX_AVATAR_BYTES,
        schema: {
          tags: ['account'],
          summary: `Upload a PNG, JPEG or WebP avatar (raw body, at most ${MAX_AVATAR_BYTES} bytes).`,
          security,
          consumes: [...AVATAR_CONTENT_TYPES],
          response: responses(
            { 200: Me },
            AUTHENTICATED,
            'payload_too_large',
            'unsupported_media_type',
            'invalid_image',
          ),
        },
      },
      async (req) => {
        const { username } = caller(req);
        const body = req.body;
        // JSON (or any other parsed type) is not an image upload.
        if (!Buffer.isBuffer(body)) throw new ApiError('unsupported_media_type');
        if (body.length === 0) throw new ApiError('invalid_image');
        const declared = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
        const actual = sniffImageType(body);
        if (actual === null) throw new ApiError('invalid_image');
        if (actual !== declared) {
          throw new ApiError('invalid_image', `The image is ${actual}, not ${declared}.`);
        }
        const before = await c.users.findOne({ _id: username }, { projection: { avatar: 1 } });
        if (!before) throw new ApiError('invalid_token');
        const fileId = await avatars.put(username, actual, body);
        const after = await c.users.findOneAndUpdate(
          { _id: username },
          { $set: { avatar: { fileId, contentType: actual, size: body.length } } },
          { returnDocument: 'after' },
        );
        if (before.avatar) await avatars.delete(before.avatar.fileId);
        if (!after) {
          await avatars.delete(fileId);
          throw new ApiError('invalid_token');
        }
        return toMe(after);
      },
    );
  });

  app.delete(
    API_PATHS.myAvatar,
    {
      onRequest,
      schema: {
        tags: ['account'],
        security,
        response: responses({ 200: Me }, AUTHENTICATED, UNUSED_BODY),
      },
    },
    async (req) => {
      const { username } = caller(req);
      const before = await c.users.findOneAndUpdate(
        { _id: username },
        { $set: { avatar: null } },
        { returnDocument: 'before' },
      );
      if (!before) throw new ApiError('invalid_token');
      if (before.avatar) await avatars.delete(before.avatar.fileId);
      return toMe({ ...before, avatar: null });
    },
  );

  app.get(
    API_PATHS.userAvatar,
    {
      onRequest,
      schema: {
        tags: ['users'],
        summary: 'The avatar image bytes.',
        security,
        params: UsernameParams,
        produces: [...AVATAR_CONTENT_TYPES],
        response: responses(
          { 200: Type.Unsafe<Buffer>({ type: 'string', format: 'binary' }) },
          AUTHENTICATED,
          CHECKED_URL,
          'user_not_found',
          'avatar_not_found',
        ),
      },
    },
    async (req, reply) => {
      const user = await c.users.findOne(
        { _id: req.params.username },
        { projection: { avatar: 1 } },
      );
      if (!user) throw new ApiError('user_not_found');
      if (!user.avatar) throw new ApiError('avatar_not_found');
      const bytes = await avatars.get(user.avatar.fileId);
      return reply
        .header('content-type', user.avatar.contentType)
        .header('cache-control', 'private, max-age=60')
        .header('x-content-type-options', 'nosniff')
        .send(bytes);
    },
  );
}
