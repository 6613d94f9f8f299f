/**
 * The one error catalog of the wire protocol: every error a client can see, over REST
 * (`{ error: { code, message } }` with the HTTP status below) or over the WebSocket
 * (`{ type: 'error', code, message, ref }`, where the status is informative only).
 *
 * Clients branch on `code`; `message` is for humans and may change.
 */

export interface ErrorSpec {
  /** HTTP status used when the error is a REST response. */
  readonly status: number;
  /** Default human-readable message. */
  readonly message: string;
}

export const ERRORS = {
  // --- malformed input (REST and WebSocket) ---
  bad_request: { status: 400, message: 'The request is not valid HTTP or has a malformed URL.' },
  request_timeout: { status: 408, message: 'The request took too long to arrive.' },
  headers_too_large: { status: 431, message: 'The request line or headers are too large.' },
  bad_json: { status: 400, message: 'The body is not valid JSON.' },
  validation_failed: { status: 400, message: 'The request does not match its schema.' },
  invalid_key: {
    status: 400,
    message: 'A public key is not a base64 SPKI key of an accepted algorithm and size.',
  },
  invalid_key_proof: {
    status: 400,
    message: 'The key-change proof is not a signature of the new keys by the current signing key.',
  },
  invalid_prekey_signature: {
    status: 400,
    message: 'A prekey signature does not verify under your published signing key.',
  },
  invalid_image: { status: 400, message: 'The image is not a PNG, JPEG or WebP file.' },
  contact_self: { status: 400, message: 'You cannot be your own contact.' },
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  unsupported_media_type: { status: 415, message: 'The content type is not accepted here.' },
  method_not_allowed: { status: 405, message: 'This path does not take this method.' },

  // --- authentication ---
  unauthorized: { status: 401, message: 'Authentication is required.' },
  invalid_token: { status: 401, message: 'The token is invalid or has been revoked.' },
  token_expired: { status: 401, message: 'The token has expired.' },
  /** Deliberately the same for an unknown user and a wrong password. */
  invalid_credentials: { status: 401, message: 'Wrong username or password.' },

  // --- permission ---
  forbidden: { status: 403, message: 'You may not do this.' },
  not_contact: { status: 403, message: 'You can only message accepted contacts.' },
  blocked: { status: 403, message: 'This user does not accept messages from you.' },

  // --- lookups and state ---
  not_found: { status: 404, message: 'No such resource.' },
  user_not_found: { status: 404, message: 'No such user.' },
  contact_not_found: { status: 404, message: 'No such contact or contact request.' },
  avatar_not_found: { status: 404, message: 'This user has no avatar.' },
  prekeys_not_found: {
    status: 404,
    message: 'This user has not published v2 (X25519) keys under their current keys.',
  },
  username_taken: { status: 409, message: 'This username is taken.' },
  contact_exists: {
    status: 409,
    message: 'You are already contacts, or a request between you is pending.',
  },
  prekey_id_taken: {
    status: 409,
    message: 'A prekey id is repeated in the upload or already stored; use new ids.',
  },
  identity_key_conflict: {
    status: 409,
    message: 'The X25519 identity key can only change together with a key change.',
  },
  prekey_limit_exceeded: {
    status: 403,
    message: 'You would hold more one-time prekeys than the directory keeps.',
  },

  // --- abuse and availability ---
  rate_limited: { status: 429, message: 'Too many requests; slow down and retry later.' },
  internal: { status: 500, message: 'Internal server error.' },
  unavailable: { status: 503, message: 'The service is temporarily unavailable.' },

  // --- WebSocket frames ---
  frame_too_large: { status: 413, message: 'The frame is larger than the protocol allows.' },
  bad_frame: { status: 400, message: 'The frame does not match its schema.' },
  unknown_type: { status: 400, message: 'Unknown frame type.' },
  unknown_recipient: { status: 404, message: 'The recipient does not exist.' },
  id_conflict: {
    status: 409,
    message: 'This message id was already used for a different message.',
  },
  not_yours: { status: 403, message: 'Only the recipient may acknowledge a message.' },
  recipient_offline: {
    status: 404,
    message: 'The recipient is offline; ephemeral signals are not stored.',
  },
  draining: { status: 503, message: 'This gateway is shutting down; reconnect elsewhere.' },

  // --- attachments ---
  attachment_too_large: { status: 413, message: 'The attachment is larger than the limit.' },
  attachment_quota_exceeded: {
    status: 403,
    message: 'Your stored and uploading attachments would exceed your quota.',
  },
  attachment_offset_mismatch: {
    status: 409,
    message: 'The part does not start where the stored bytes end; resume from `received`.',
  },
  attachment_incomplete: { status: 409, message: 'The upload has not received every byte yet.' },
  attachment_finished: { status: 409, message: 'The upload is finished; it takes no more parts.' },
  attachment_digest_mismatch: {
    status: 422,
    message: 'The stored bytes do not have this digest; the upload was deleted.',
  },
  range_not_satisfiable: {
    status: 416,
    message: 'The range is not within the attachment.',
  },
  invalid_attachment: {
    status: 400,
    message:
      'An attachment of this message is not a finished upload of yours named for this recipient.',
  },
} as const satisfies Record<string, ErrorSpec>;

/** Every error code of the protocol. */
export type ErrorCode = keyof typeof ERRORS;

/** All error codes, for schemas and docs. */
export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

/** Whether `value` is a known error code. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value);
}

/** The body of every REST error response. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

/** Builds the REST error body for `code`, with the catalog's message unless one is given. */
export function errorBody(code: ErrorCode, message?: string): ErrorBody {
  return { error: { code, message: message ?? ERRORS[code].message } };
}
