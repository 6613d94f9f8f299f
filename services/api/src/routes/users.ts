/** The caller's account, profiles, the key directory and username search. */
import {
  API_PATHS,
  ChangeKeysRequest,
  DeleteAccountRequest,
  KeysResponse,
  Me,
  Profile,
  SEARCH_LIMIT_DEFAULT,
  SearchQuery,
  SearchResponse,
  UpdateProfileRequest,
  UsernameParams,
} from '@gossip/protocol';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { authenticate, caller } from '../auth.js';
import { deleteAccount } from '../account.js';
import type { AppContext } from '../context.js';
import { ApiError } from '../errors.js';
import { changeKeys } from '../keys.js';
import { toKeys, toMe, toProfile } from '../views.js';
import {
  AUTHENTICATED,
  CHECKED_URL,
  JSON_BODY,
  NO_CONTENT,
  PASSWORD_CHECKED,
  responses,
  security,
} from './responses.js';

export function userRoutes(fastify: FastifyInstance, ctx: AppContext): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { c, config, limiter, metrics } = ctx;
  const onRequest = authenticate(ctx);

  async function loadSelf(username: string) {
    const user = await c.users.findOne({ _id: username });
    if (!user) throw new ApiError('invalid_token');
    return user;
  }

  /** The user named in the path, or `user_not_found`. */
  async function loadNamed(username: string, projection?: Record<string, 1>) {
    const user = await c.users.findOne({ _id: username }, projection ? { projection } : {});
    if (!user) throw new ApiError('user_not_found');
    return user;
  }

  app.get(
    API_PATHS.me,
    {
      onRequest,
      schema: { tags: ['account'], security, response: responses({ 200: Me }, AUTHENTICATED) },
    },
    async (req) => toMe(await loadSelf(caller(req).username)),
  );

  app.patch(
    API_PATHS.myProfile,
    {
      onRequest,
      schema: {
        tags: ['account'],
        summary: 'Set or clear (null) the display name.',
        security,
        body: UpdateProfileRequest,
        response: responses({ 200: Me }, AUTHENTICATED, JSON_BODY),
      },
    },
    async (req) => {
      const { username } = caller(req);
      await c.users.updateOne({ _id: username }, { $set: { displayName: req.body.displayName } });
      return toMe(await loadSelf(username));
    },
  );

  app.put(
    API_PATHS.myKeys,
    {
      onRequest,
      schema: {
        tags: ['keys'],
        summary:
          'Replace your public keys (needs the password; sign the new keys with the old ' +
          'signing key, or contacts see an identity reset). Contacts and your other ' +
          'sessions get a key-changed event.',
        security,
        body: ChangeKeysRequest,
        response: responses(
          { 200: KeysResponse },
          AUTHENTICATED,
          JSON_BODY,
          'invalid_key',
          'invalid_key_proof',
          'invalid_credentials',
        ),
      },
    },
    async (req) => {
      const { username } = caller(req);
      const updated = await changeKeys(ctx, username, req.body);
      req.log.info(
        { user: username, keyVersion: updated.keyVersion, signed: req.body.proof !== undefined },
        'keys changed',
      );
      return toKeys(updated);
    },
  );

  app.get(
    API_PATHS.userProfile,
    {
      onRequest,
      schema: {
        tags: ['users'],
        security,
        params: UsernameParams,
        response: responses({ 200: Profile }, AUTHENTICATED, CHECKED_URL, 'user_not_found'),
      },
    },
    async (req) => toProfile(await loadNamed(req.params.username, { displayName: 1, avatar: 1 })),
  );

  app.get(
    API_PATHS.userKeys,
    {
      onRequest,
      schema: {
        tags: ['keys'],
        summary: "A user's public keys, key version and fingerprint.",
        security,
        params: UsernameParams,
        response: responses({ 200: KeysResponse }, AUTHENTICATED, CHECKED_URL, 'user_not_found'),
      },
    },
    async (req) => toKeys(await loadNamed(req.params.username)),
  );

  app.get(
    API_PATHS.search,
    {
      onRequest,
      schema: {
        tags: ['users'],
        summary: 'Usernames starting with `prefix`, in order, paged with `after`.',
        security,
        querystring: SearchQuery,
        response: responses({ 200: SearchResponse }, AUTHENTICATED, CHECKED_URL, 'rate_limited'),
      },
    },
    async (req) => {
      const { username } = caller(req);
      const limit = await limiter.hit('search_user', username, config.limits.searchPerUser);
      if (!limit.allowed) {
        metrics.rateLimited.inc({ limit: 'search_user' });
        throw new ApiError('rate_limited', undefined, { retryAfter: limit.retryAfter });
      }
      const { prefix, after } = req.query;
      const pageSize = req.query.limit ?? SEARCH_LIMIT_DEFAULT;
      // Usernames are [a-z0-9_]; '~' sorts after all of them, so this range is the prefix.
      const range: Record<string, string> = { $gte: prefix, $lt: `${prefix}~` };
      if (after !== undefined) range.$gt = after;
      const found = await c.users
        .find({ _id: range }, { projection: { displayName: 1, avatar: 1 } })
        .sort({ _id: 1 })
        .limit(pageSize + 1)
        .toArray();
      const page = found.slice(0, pageSize);
      return {
        users: page.map(toProfile),
        next: found.length > pageSize ? (page[page.length - 1]?._id ?? null) : null,
      };
    },
  );

  app.delete(
    API_PATHS.me,
    {
      onRequest,
      schema: {
        tags: ['account'],
        summary: 'Delete your account and everything stored about it. Needs the password.',
        security,
        body: DeleteAccountRequest,
        response: responses({ 204: NO_CONTENT }, AUTHENTICATED, JSON_BODY, PASSWORD_CHECKED),
      },
    },
    async (req, reply) => {
      const { username } = caller(req);
      // Its own limit: a stolen access token may guess the password here, but only slowly,
      // and it never shares a counter with logins (which are per username and address).
      await limiter.enforce('delete_user', username, config.limits.deletePerUser);
      const user = await loadSelf(username);
      if (!(await ctx.passwords.verify(req.body.password, user.passwordHash))) {
        throw new ApiError('invalid_credentials');
      }
      await deleteAccount(ctx, user);
      req.log.info({ user: username }, 'account deleted');
      return reply.status(204).send();
    },
  );
}
