/**
 * Request and response bodies of the api's REST endpoints (all under `/v1`). The api
 * validates requests against these schemas (unknown fields are refused) and serves them
 * as OpenAPI at `/docs`; the SDK uses the derived types.
 */
import { Type, type Static } from '@sinclair/typebox';
import { ERROR_CODES } from './errors.js';
import {
  MAX_KEY_CHAIN,
  MAX_KEY_ENVELOPE_CHARS,
  MAX_REFRESH_TOKEN_CHARS,
  SEARCH_LIMIT_DEFAULT,
  SEARCH_LIMIT_MAX,
  SEARCH_PREFIX_MAX,
} from './limits.js';
import { DisplayName, IsoTime, Password, PublicKeys, Username } from './primitives.js';

const strict = { additionalProperties: false } as const;

// ---------------------------------------------------------------- errors

export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.Union(ERROR_CODES.map((c) => Type.Literal(c))),
      message: Type.String(),
    }),
  },
  { description: 'Every 4xx and 5xx response has this body.' },
);
export type ErrorResponse = Static<typeof ErrorResponse>;

// ---------------------------------------------------------------- profiles

export const Profile = Type.Object({
  username: Username,
  displayName: Type.Union([DisplayName, Type.Null()]),
  hasAvatar: Type.Boolean(),
});
export type Profile = Static<typeof Profile>;

/** The caller's own account. */
export const Me = Type.Object({
  username: Username,
  displayName: Type.Union([DisplayName, Type.Null()]),
  hasAvatar: Type.Boolean(),
  keyVersion: Type.Integer({ minimum: 1 }),
  createdAt: IsoTime,
});
export type Me = Static<typeof Me>;

export const UpdateProfileRequest = Type.Object(
  { displayName: Type.Union([DisplayName, Type.Null()]) },
  strict,
);
export type UpdateProfileRequest = Static<typeof UpdateProfileRequest>;

// ---------------------------------------------------------------- accounts and sessions

export const RegisterRequest = Type.Object(
  {
    username: Username,
    password: Password,
    displayName: Type.Optional(DisplayName),
    keys: PublicKeys,
  },
  strict,
);
export type RegisterRequest = Static<typeof RegisterRequest>;

export const LoginRequest = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 64 }),
    password: Type.String({ minLength: 1, maxLength: 256 }),
  },
  strict,
);
export type LoginRequest = Static<typeof LoginRequest>;

export const RefreshToken = Type.String({
  minLength: 16,
  maxLength: MAX_REFRESH_TOKEN_CHARS,
  pattern: '^[A-Za-z0-9_-]+$',
  description: 'Opaque, single use: each refresh returns a new one and revokes the old.',
});

export const RefreshRequest = Type.Object({ refreshToken: RefreshToken }, strict);
export type RefreshRequest = Static<typeof RefreshRequest>;

export const LogoutRequest = Type.Object({ refreshToken: RefreshToken }, strict);
export type LogoutRequest = Static<typeof LogoutRequest>;

/** Returned by register, login and refresh. */
export const Session = Type.Object({
  tokenType: Type.Literal('Bearer'),
  accessToken: Type.String({ description: 'JWT (EdDSA); send as `Authorization: Bearer`.' }),
  expiresIn: Type.Integer({ description: 'Seconds until the access token expires.' }),
  refreshToken: RefreshToken,
  refreshExpiresIn: Type.Integer({ description: 'Seconds until the refresh token expires.' }),
  user: Me,
});
export type Session = Static<typeof Session>;

export const DeleteAccountRequest = Type.Object(
  { password: Type.String({ minLength: 1, maxLength: 256 }) },
  { ...strict, description: 'The password again, so a stolen access token cannot do this.' },
);
export type DeleteAccountRequest = Static<typeof DeleteAccountRequest>;

// ---------------------------------------------------------------- sessions

export const ChangePasswordRequest = Type.Object(
  {
    currentPassword: Type.String({
      minLength: 1,
      maxLength: 256,
      description: 'The current password, so a stolen access token cannot do this.',
    }),
    newPassword: Password,
  },
  {
    ...strict,
    description: 'Changes the password and ends every other session of the account.',
  },
);
export type ChangePasswordRequest = Static<typeof ChangePasswordRequest>;

/** A session id: the `sid` of its access tokens. */
export const SessionId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9-]+$' });

/** One session of the caller's account. */
export const SessionSummary = Type.Object({
  id: SessionId,
  createdAt: IsoTime,
  lastUsedAt: IsoTime,
  current: Type.Boolean({ description: 'The session of the access token that asked.' }),
});
export type SessionSummary = Static<typeof SessionSummary>;

export const SessionList = Type.Object({ sessions: Type.Array(SessionSummary) });
export type SessionList = Static<typeof SessionList>;

/**
 * A single-use ticket for one WebSocket upgrade (`?ticket=` on the gateway URL), so a
 * browser never puts its access token in a URL. It lives `expiresIn` seconds.
 */
export const WsTicket = Type.Object({
  ticket: Type.String({
    minLength: 1,
    description: 'JWT (EdDSA, `typ: ws-ticket`), signed like an access token.',
  }),
  expiresIn: Type.Integer(),
});
export type WsTicket = Static<typeof WsTicket>;

// ---------------------------------------------------------------- key directory

/** packages/crypto `signKeyChange()`: 64 bytes, standard base64. */
export const KeyChangeProof = Type.String({
  minLength: 88,
  maxLength: 88,
  pattern: '^[A-Za-z0-9+/]{86}==$',
  description:
    'Ed25519 signature by the previous signing key over the new keys (continuity proof, ' +
    'packages/crypto signKeyChange). Without it the change is an identity reset.',
});

/** One key change in the directory's history. */
export const KeyChainStep = Type.Object({
  keyVersion: Type.Integer({ minimum: 2 }),
  keys: PublicKeys,
  proof: Type.Union([KeyChangeProof, Type.Null()]),
});
export type KeyChainStep = Static<typeof KeyChainStep>;

export const KeysResponse = Type.Object({
  username: Username,
  keys: PublicKeys,
  keyVersion: Type.Integer({ minimum: 1, description: 'Grows by one on each key change.' }),
  fingerprint: Type.String({
    pattern: '^[0-9]{30}$',
    description:
      'The 30-digit fingerprint of this user and keys, packages/crypto fingerprint(); ' +
      'clients recompute it from the keys rather than trust it.',
  }),
  updatedAt: IsoTime,
  keyChain: Type.Optional(
    Type.Array(KeyChainStep, {
      maxItems: MAX_KEY_CHAIN,
      description:
        'The latest key changes, oldest first (at most MAX_KEY_CHAIN): a client that pinned ' +
        'an older version checks each step against the signing key it trusts; an unsigned ' +
        'or missing step is an identity reset.',
    }),
  ),
});
export type KeysResponse = Static<typeof KeysResponse>;

export const ChangeKeysRequest = Type.Object(
  {
    keys: PublicKeys,
    password: Type.String({
      minLength: 1,
      maxLength: 256,
      description: 'The password again, so a stolen access token cannot replace the keys.',
    }),
    proof: Type.Optional(KeyChangeProof),
  },
  strict,
);
export type ChangeKeysRequest = Static<typeof ChangeKeysRequest>;

// ---------------------------------------------------------------- search

export const SearchQuery = Type.Object(
  {
    prefix: Type.String({ minLength: 1, maxLength: SEARCH_PREFIX_MAX, pattern: '^[a-z0-9_]+$' }),
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: SEARCH_LIMIT_MAX, default: SEARCH_LIMIT_DEFAULT }),
    ),
    after: Type.Optional(Username),
  },
  strict,
);
export type SearchQuery = Static<typeof SearchQuery>;

export const SearchResponse = Type.Object({
  users: Type.Array(Profile),
  next: Type.Union([Username, Type.Null()], {
    description: 'Pass as `after` for the next page; null on the last page.',
  }),
});
export type SearchResponse = Static<typeof SearchResponse>;

// ---------------------------------------------------------------- contacts

export const ContactState = Type.Union(
  [
    Type.Literal('none'),
    Type.Literal('outgoing'),
    Type.Literal('incoming'),
    Type.Literal('accepted'),
  ],
  {
    description:
      'From the caller’s side: none (only a block), outgoing (you asked), incoming ' +
      '(they asked), accepted (contacts: messages flow both ways).',
  },
);
export type ContactState = Static<typeof ContactState>;

export const Contact = Type.Object({
  username: Username,
  state: ContactState,
  blocked: Type.Boolean({ description: 'You blocked this user.' }),
  since: IsoTime,
});
export type Contact = Static<typeof Contact>;

export const ContactList = Type.Object({ contacts: Type.Array(Contact) });
export type ContactList = Static<typeof ContactList>;

export const UsernameParams = Type.Object({ username: Username }, strict);
export type UsernameParams = Static<typeof UsernameParams>;

/** Body of request, reject, remove, block and unblock: empty (or absent). */
export const EmptyRequest = Type.Object({}, strict);

export const AcceptContactRequest = Type.Object(
  {
    keyEnvelope: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: MAX_KEY_ENVELOPE_CHARS,
        description:
          'Opaque signed, wrapped key envelope from packages/crypto, passed to the ' +
          'requester in the `accepted` contact event. The server cannot read it.',
      }),
    ),
  },
  strict,
);
export type AcceptContactRequest = Static<typeof AcceptContactRequest>;

// ---------------------------------------------------------------- health

export const HealthResponse = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  checks: Type.Optional(
    Type.Record(Type.String(), Type.Union([Type.Literal('ok'), Type.String()])),
  ),
});
export type HealthResponse = Static<typeof HealthResponse>;

/**
 * Paths of the REST endpoints, so the SDK and the api agree. `:username` is a path
 * parameter.
 */
export const API_PATHS = {
  register: '/v1/auth/register',
  login: '/v1/auth/login',
  refresh: '/v1/auth/refresh',
  logout: '/v1/auth/logout',
  /** POST: a single-use WebSocket ticket for the caller (see {@link WsTicket}). */
  wsTicket: '/v1/auth/ws-ticket',
  me: '/v1/me',
  /** POST {@link ChangePasswordRequest}. */
  myPassword: '/v1/me/password',
  /** GET {@link SessionList}; DELETE: end every session (logout everywhere). */
  mySessions: '/v1/me/sessions',
  /** DELETE: end one session by id. */
  mySession: '/v1/me/sessions/:id',
  myProfile: '/v1/me/profile',
  myKeys: '/v1/me/keys',
  myAvatar: '/v1/me/avatar',
  /** GET {@link PrekeyStatus}; PUT {@link UploadPrekeysRequest} (issue 16, prekeys.ts). */
  myPrekeys: '/v1/me/prekeys',
  userProfile: '/v1/users/:username',
  userKeys: '/v1/users/:username/keys',
  userAvatar: '/v1/users/:username/avatar',
  /** GET {@link PrekeyBundle}: hands out (deletes) one one-time prekey. */
  userPrekeyBundle: '/v1/users/:username/prekey-bundle',
  search: '/v1/users',
  contacts: '/v1/contacts',
  contact: '/v1/contacts/:username',
  contactRequest: '/v1/contacts/:username/request',
  contactAccept: '/v1/contacts/:username/accept',
  contactReject: '/v1/contacts/:username/reject',
  contactBlock: '/v1/contacts/:username/block',
  contactUnblock: '/v1/contacts/:username/unblock',
  /** POST {@link AttachmentCreate} → 201 {@link AttachmentStatus}. */
  attachments: '/v1/attachments',
  /** GET {@link AttachmentStatus}; DELETE: the uploader withdraws it. */
  attachment: '/v1/attachments/:id',
  /** PUT one part (`Content-Range`, octet-stream); GET the ciphertext (`Range` allowed). */
  attachmentContent: '/v1/attachments/:id/content',
  /** POST {@link AttachmentFinish}. */
  attachmentFinish: '/v1/attachments/:id/finish',
} as const;

/** Fills `:username` in one of {@link API_PATHS}. */
export function apiPath(path: string, username?: string): string {
  return username === undefined ? path : path.replace(':username', encodeURIComponent(username));
}
