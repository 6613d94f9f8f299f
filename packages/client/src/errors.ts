/** The errors the SDK throws, each telling the caller what went wrong without secrets. */
import type { ErrorCode } from '@gossip/protocol';

/** The api answered with an error body (`{ error: { code, message } }`). */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    /** HTTP status. */
    readonly status: number,
    /** The protocol error code, or `http_<status>` when the body was not a protocol error. */
    readonly code: ErrorCode | `http_${number}`,
    message: string,
  ) {
    super(message);
  }
}

/** The server could not be reached (DNS, refused connection, timeout, TLS). */
export class NetworkError extends Error {
  override readonly name = 'NetworkError';
  constructor(
    readonly url: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot reach the Gossip server at ${url}`, options);
  }
}

/** An operation needs a logged-in session and there is none (or it could not be refreshed). */
export class NotLoggedInError extends Error {
  override readonly name = 'NotLoggedInError';
  constructor(message = 'not logged in') {
    super(message);
  }
}

/**
 * A contact's published keys differ from the ones pinned on first contact. Either the
 * contact re-installed or changed keys, or someone (the server) is substituting keys:
 * compare the new safety number with the contact out of band before trusting it with
 * `GossipClient.trustContactKeys`.
 */
export class KeyChangedError extends Error {
  override readonly name = 'KeyChangedError';
  constructor(
    readonly username: string,
    /** The pinned keys' 30-digit fingerprint. */
    readonly previousFingerprint: string,
    /** The newly published keys' 30-digit fingerprint. */
    readonly currentFingerprint: string,
    /** The new safety number (60 digits) to compare out of band before trusting. */
    readonly currentSafetyNumber: string,
  ) {
    super(
      `the keys of ${username} changed (fingerprint ${previousFingerprint} -> ${currentFingerprint}); ` +
        'verify the new safety number with them before trusting it',
    );
  }
}

/** Local state is missing: no identity keys for this user, or no conversation key. */
export class MissingKeyError extends Error {
  override readonly name = 'MissingKeyError';
  constructor(
    readonly what: 'identity' | 'contact' | 'conversation',
    message: string,
  ) {
    super(message);
  }
}
