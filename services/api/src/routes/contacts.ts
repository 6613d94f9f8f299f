/** Contact endpoints: thin wrappers over contacts.ts. */
import {
  API_PATHS,
  AcceptContactRequest,
  ContactList,
  EmptyRequest,
  UsernameParams,
} from '@gossip/protocol';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { authenticate, caller } from '../auth.js';
import {
  acceptContact,
  blockContact,
  listContacts,
  rejectContact,
  removeContact,
  requestContact,
  unblockContact,
} from '../contacts.js';
import type { AppContext } from '../context.js';
import {
  AUTHENTICATED,
  CHECKED_URL,
  JSON_BODY,
  NO_CONTENT,
  responses,
  security,
} from './responses.js';

type Action = (ctx: AppContext, me: string, peer: string) => Promise<void>;

/**
 * Requests reach another person, so they have a limit of their own; every other change
 * (accept, reject, remove, block, unblock) shares one, which still stops a client from
 * flooding a peer with request/remove or block/unblock cycles.
 */
function limitFor(ctx: AppContext, action: Action | 'accept') {
  const { limits } = ctx.config;
  return action === requestContact
    ? (['contact_request', limits.contactRequestPerUser] as const)
    : (['contact_change', limits.contactChangePerUser] as const);
}

async function checkLimit(ctx: AppContext, me: string, action: Action | 'accept') {
  const [name, limit] = limitFor(ctx, action);
  await ctx.limiter.enforce(name, me, limit);
}

export function contactRoutes(fastify: FastifyInstance, ctx: AppContext): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const onRequest = authenticate(ctx);
  // Any change can meet any state of the pair: a missing or blocked peer, oneself, a
  // request that exists already or does not exist.
  const changeResponses = responses(
    { 204: NO_CONTENT },
    AUTHENTICATED,
    JSON_BODY,
    CHECKED_URL,
    'rate_limited',
    'user_not_found',
    'contact_self',
    'blocked',
    'contact_exists',
    'contact_not_found',
  );

  app.get(
    API_PATHS.contacts,
    {
      onRequest,
      schema: {
        tags: ['contacts'],
        security,
        response: responses({ 200: ContactList }, AUTHENTICATED),
      },
    },
    async (req) => ({ contacts: await listContacts(ctx, caller(req).username) }),
  );

  const simple: Array<[string, 'POST' | 'DELETE', Action, string]> = [
    [API_PATHS.contactRequest, 'POST', requestContact, 'Ask a user to become a contact.'],
    [API_PATHS.contactReject, 'POST', rejectContact, 'Decline a pending request to you.'],
    [API_PATHS.contact, 'DELETE', removeContact, 'End a contact, or withdraw a request.'],
    [API_PATHS.contactBlock, 'POST', blockContact, 'Refuse messages and requests from a user.'],
    [API_PATHS.contactUnblock, 'POST', unblockContact, 'Lift a block.'],
  ];
  for (const [url, method, action, summary] of simple) {
    app.route({
      method,
      url,
      onRequest,
      schema: {
        tags: ['contacts'],
        summary,
        security,
        params: UsernameParams,
        body: EmptyRequest,
        response: changeResponses,
      },
      handler: async (req, reply) => {
        const me = caller(req).username;
        await checkLimit(ctx, me, action);
        await action(ctx, me, req.params.username);
        return reply.status(204).send();
      },
    });
  }

  app.post(
    API_PATHS.contactAccept,
    {
      onRequest,
      schema: {
        tags: ['contacts'],
        summary: 'Accept a pending request, optionally passing your signed, wrapped key.',
        security,
        params: UsernameParams,
        body: AcceptContactRequest,
        response: changeResponses,
      },
    },
    async (req, reply) => {
      const me = caller(req).username;
      await checkLimit(ctx, me, 'accept');
      await acceptContact(ctx, me, req.params.username, req.body.keyEnvelope);
      return reply.status(204).send();
    },
  );
}
