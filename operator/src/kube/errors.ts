/** Reading HTTP status codes out of the different errors @kubernetes/client-node throws. */

/** The HTTP status of an API error (`ApiException.code`, a watch's `statusCode`), if any. */
export function httpStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === 'number') return e.code;
  if (typeof e.statusCode === 'number') return e.statusCode;
  return undefined;
}

export const isNotFound = (err: unknown): boolean => httpStatus(err) === 404;
export const isConflict = (err: unknown): boolean => httpStatus(err) === 409;
export const isGone = (err: unknown): boolean => httpStatus(err) === 410;

/** A short, log-safe description: status and the API server's message, never a request body. */
export function describeError(err: unknown): string {
  if (typeof err !== 'object' || err === null) return String(err);
  const e = err as { message?: unknown; body?: unknown; code?: unknown };
  const status = httpStatus(err);
  let message = typeof e.message === 'string' ? e.message : String(err);
  if (typeof e.body === 'string') {
    try {
      const parsed = JSON.parse(e.body) as { message?: unknown };
      if (typeof parsed.message === 'string') message = parsed.message;
    } catch {
      // not JSON: keep the error's own message
    }
  } else if (typeof e.body === 'object' && e.body !== null) {
    const m = (e.body as { message?: unknown }).message;
    if (typeof m === 'string') message = m;
  }
  if (status !== undefined) return `${status}: ${message}`;
  return typeof e.code === 'string' ? `${e.code}: ${message}` : message;
}
