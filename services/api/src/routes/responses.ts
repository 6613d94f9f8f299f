/**
 * The `response` part of a route's schema: its success bodies and every error status it
 * can answer, each with the catalog codes behind it and the error body, so the OpenAPI
 * document at `/docs/json` lists every answer (responses.integration.test.ts checks the
 * live answers against it).
 */
import { ERRORS, ErrorResponse, type ErrorCode } from '@gossip/protocol';
import { Type, type TSchema } from '@sinclair/typebox';

/**
 * What any request can be answered with, before or around its route: a path or query
 * it cannot decode, a request too slow or with headers too large (Node's parser, see
 * servicekit's onClientError), a failure, a store that is down.
 */
const ALWAYS: readonly ErrorCode[] = [
  'bad_request',
  'request_timeout',
  'headers_too_large',
  'internal',
  'unavailable',
];

/**
 * The OpenAPI security requirement of a route with `onRequest: authenticate(ctx)`: the
 * bearer scheme app.ts declares.
 */
export const security = [{ bearerAuth: [] }];

/** A route with `onRequest: authenticate(ctx)`. */
export const AUTHENTICATED: readonly ErrorCode[] = [
  'unauthorized',
  'invalid_token',
  'token_expired',
];

/** A route with a JSON body. */
export const JSON_BODY: readonly ErrorCode[] = [
  'bad_json',
  'validation_failed',
  'payload_too_large',
  'unsupported_media_type',
];

/**
 * A POST, PUT, PATCH or DELETE route without a body schema: fastify still parses a body
 * sent to it (JSON only), so these can be met before the route runs.
 */
export const UNUSED_BODY: readonly ErrorCode[] = [
  'bad_json',
  'payload_too_large',
  'unsupported_media_type',
];

/** A route that checks the caller's password (slowly, so it is rate limited). */
export const PASSWORD_CHECKED: readonly ErrorCode[] = ['rate_limited', 'invalid_credentials'];

/** A route with path parameters or a query string (checked against their schema). */
export const CHECKED_URL: readonly ErrorCode[] = ['validation_failed'];

/** A body-less success (204). */
export const NO_CONTENT = Type.Null({ description: 'No content.' });

/**
 * `success` (status to body) plus one entry per error status of `codes` (and the ones
 * every request can get), whose description names the codes.
 */
export function responses(
  success: Record<number, TSchema>,
  ...codes: ReadonlyArray<readonly ErrorCode[] | ErrorCode>
): Record<number, TSchema> {
  const byStatus = new Map<number, Set<ErrorCode>>();
  for (const code of [...ALWAYS, ...codes.flat()]) {
    const status = ERRORS[code].status;
    byStatus.set(status, (byStatus.get(status) ?? new Set()).add(code));
  }
  const out: Record<number, TSchema> = { ...success };
  for (const [status, set] of [...byStatus].sort(([a], [b]) => a - b)) {
    out[status] = Type.Object(ErrorResponse.properties, {
      description: `Error codes: ${[...set].join(', ')}.`,
    });
  }
  return out;
}
