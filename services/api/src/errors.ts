/**
 * Errors the api answers with: a catalog code from @gossip/protocol and its HTTP status.
 * Route code throws `ApiError`; the error handler turns anything into `{ error }` JSON.
 */
import { ERRORS, errorBody, type ErrorCode } from '@gossip/protocol';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiMetrics } from './metrics.js';

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Seconds, for `Retry-After` on `rate_limited`. */
  readonly retryAfter?: number;
  constructor(
    code: ErrorCode,
    message?: string,
    opts: { cause?: unknown; retryAfter?: number } = {},
  ) {
    super(message ?? ERRORS[code].message, { cause: opts.cause });
    this.name = 'ApiError';
    this.code = code;
    this.status = ERRORS[code].status;
    if (opts.retryAfter !== undefined) this.retryAfter = opts.retryAfter;
  }
}

/** Maps fastify's own errors (parsing, limits, validation) onto catalog codes. */
function fromFastify(err: FastifyError): ApiError | undefined {
  if (err.validation || err.code === 'FST_ERR_VALIDATION') {
    return new ApiError('validation_failed', `${ERRORS.validation_failed.message} ${err.message}`);
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('payload_too_large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('unsupported_media_type');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError('bad_json');
  }
  if (err instanceof SyntaxError || (err.statusCode === 400 && /JSON/i.test(err.message))) {
    return new ApiError('bad_json');
  }
  if (err.statusCode === 413) return new ApiError('payload_too_large');
  if (err.statusCode === 415) return new ApiError('unsupported_media_type');
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
    return new ApiError('validation_failed', err.message);
  }
  return undefined;
}

/** A MongoDB or Redis that cannot be reached: the request may succeed later. */
function isUnavailable(err: Error): boolean {
  return (
    /^Mongo(ServerSelection|Network|NetworkTimeout|NotConnected|TopologyClosed)Error$/.test(
      err.name,
    ) ||
    err.name === 'MaxRetriesPerRequestError' ||
    /^Connection is closed\.?$/.test(err.message) ||
    /Stream isn't writeable/.test(err.message)
  );
}

/**
 * fastify's `frameworkErrors`: what its router refuses before any route runs, a path it
 * cannot percent-decode or an oversize path parameter, is a 400 with a catalog body.
 */
export function frameworkErrorHandler(
  err: FastifyError,
  req: FastifyRequest,
  reply: FastifyReply,
): void {
  const code: ErrorCode =
    err.code === 'FST_ERR_BAD_URL' || err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? 'bad_request'
      : 'internal';
  req.log.info({ code, status: ERRORS[code].status }, 'request refused');
  void reply.status(ERRORS[code].status).send(errorBody(code));
}

/** The fastify error handler: 4xx logged at info, 5xx at error, always a JSON body. */
export function makeErrorHandler(metrics: ApiMetrics) {
  return function handleError(err: FastifyError, req: FastifyRequest, reply: FastifyReply) {
    const api = err instanceof ApiError ? err : fromFastify(err);
    if (!api && isUnavailable(err)) {
      req.log.error({ err }, 'a dependency is unavailable');
      metrics.errors.inc({ code: 'unavailable' });
      return reply.status(503).header('retry-after', '5').send(errorBody('unavailable'));
    }
    if (!api) {
      req.log.error({ err }, 'request failed');
      metrics.errors.inc({ code: 'internal' });
      return reply.status(500).send(errorBody('internal'));
    }
    if (api.status >= 500) req.log.error({ err }, 'request failed');
    else req.log.info({ code: api.code, status: api.status }, 'request refused');
    metrics.errors.inc({ code: api.code });
    if (api.retryAfter !== undefined) reply.header('retry-after', String(api.retryAfter));
    return reply.status(api.status).send(errorBody(api.code, api.message));
  };
}
