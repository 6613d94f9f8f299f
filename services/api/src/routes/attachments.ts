/**
 * The attachment routes: thin over AttachmentService (attachments.ts), which owns the
 * checks and the storage. Part bodies are streams, never parsed or buffered here.
 */
import {
  API_PATHS,
  AttachmentCreate,
  AttachmentFinish,
  AttachmentParams,
  AttachmentStatus,
  MAX_ATTACHMENT_PART_BYTES,
} from '@gossip/protocol';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Readable } from 'node:stream';
import { RangeNotSatisfiableError } from '../attachments.js';
import { authenticate, caller } from '../auth.js';
import type { AppContext } from '../context.js';
import { ApiError } from '../errors.js';
import {
  AUTHENTICATED,
  CHECKED_URL,
  JSON_BODY,
  NO_CONTENT,
  responses,
  security,
  UNUSED_BODY,
} from './responses.js';

const tags = ['attachments'];
const OCTETS = 'application/octet-stream';
const Binary = Type.Unsafe<Buffer>({ type: 'string', format: 'binary' });

export async function attachmentRoutes(fastify: FastifyInstance, ctx: AppContext): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const service = ctx.attachments;
  const onRequest = authenticate(ctx);

  app.post(
    API_PATHS.attachments,
    {
      onRequest,
      schema: {
        tags,
        summary: 'Start an upload of `size` ciphertext bytes (within the size limit and quota).',
        security,
        body: AttachmentCreate,
        response: responses(
          { 201: AttachmentStatus },
          AUTHENTICATED,
          JSON_BODY,
          'attachment_too_large',
          'attachment_quota_exceeded',
        ),
      },
    },
    async (req, reply) => {
      const status = await service.create(caller(req).username, req.body.size);
      return reply.status(201).send(status);
    },
  );

  app.get(
    API_PATHS.attachment,
    {
      onRequest,
      schema: {
        tags,
        summary:
          'An upload’s progress (`received`) for the uploader; finished ones for recipients.',
        security,
        params: AttachmentParams,
        response: responses({ 200: AttachmentStatus }, AUTHENTICATED, CHECKED_URL, 'not_found'),
      },
    },
    async (req) => service.status(caller(req).username, req.params.id),
  );

  // Part bodies reach the handler as the request stream, only inside this scope.
  await app.register(async (plain) => {
    const scope = plain.withTypeProvider<TypeBoxTypeProvider>();
    scope.addContentTypeParser(OCTETS, (_req, payload, done) => done(null, payload));
    scope.put(
      API_PATHS.attachmentContent,
      {
        onRequest,
        schema: {
          tags,
          summary:
            `Store bytes START-END (header \`Content-Range: bytes START-END/SIZE\`, START = ` +
            `\`received\`) as one part of at most ${MAX_ATTACHMENT_PART_BYTES} bytes. A ` +
            'part that does not arrive whole is not stored.',
          security,
          consumes: [OCTETS],
          params: AttachmentParams,
          response: responses(
            { 200: AttachmentStatus },
            AUTHENTICATED,
            CHECKED_URL,
            UNUSED_BODY,
            'not_found',
            'attachment_finished',
            'attachment_offset_mismatch',
            'range_not_satisfiable',
          ),
        },
      },
      async (req) => {
        const body: unknown = req.body;
        if (!(body instanceof Readable)) throw new ApiError('unsupported_media_type');
        return service.putPart(
          caller(req).username,
          req.params.id,
          req.headers['content-range'],
          req.headers['content-length'],
          body,
        );
      },
    );
  });

  app.post(
    API_PATHS.attachmentFinish,
    {
      onRequest,
      schema: {
        tags,
        summary:
          'Check the digest of the stored bytes and let the named recipients download it. ' +
          'A wrong digest deletes the upload.',
        security,
        params: AttachmentParams,
        body: AttachmentFinish,
        response: responses(
          { 200: AttachmentStatus },
          AUTHENTICATED,
          CHECKED_URL,
          JSON_BODY,
          'not_found',
          'not_contact',
          'attachment_incomplete',
          'attachment_finished',
          'attachment_digest_mismatch',
        ),
      },
    },
    async (req) => service.finish(caller(req).username, req.params.id, req.body),
  );

  app.get(
    API_PATHS.attachmentContent,
    {
      onRequest,
      schema: {
        tags,
        summary:
          'The ciphertext, for the uploader and the named recipients (`Range: bytes=N-` ' +
          'or `bytes=N-M` for a part).',
        security,
        params: AttachmentParams,
        produces: [OCTETS],
        response: responses(
          { 200: Binary, 206: Binary },
          AUTHENTICATED,
          CHECKED_URL,
          'not_found',
          'range_not_satisfiable',
        ),
      },
    },
    async (req, reply) => {
      const d = await service
        .download(caller(req).username, req.params.id, req.headers.range)
        .catch((err: unknown) => {
          if (err instanceof RangeNotSatisfiableError) {
            void reply.header('content-range', `bytes */${err.size}`);
          }
          throw err;
        });
      void reply
        .status(d.status)
        .header('content-type', OCTETS)
        .header('content-length', String(d.range.end - d.range.start + 1))
        .header('accept-ranges', 'bytes')
        .header('cache-control', 'private, no-store');
      if (d.status === 206) {
        void reply.header('content-range', `bytes ${d.range.start}-${d.range.end}/${d.size}`);
      }
      return reply.send(d.body);
    },
  );

  app.delete(
    API_PATHS.attachment,
    {
      onRequest,
      schema: {
        tags,
        summary: 'The uploader withdraws an attachment.',
        security,
        params: AttachmentParams,
        response: responses(
          { 204: NO_CONTENT },
          AUTHENTICATED,
          CHECKED_URL,
          UNUSED_BODY,
          'not_found',
        ),
      },
    },
    async (req, reply) => {
      await service.withdraw(caller(req).username, req.params.id);
      return reply.status(204).send();
    },
  );
}
