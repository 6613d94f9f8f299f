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
 * Plain `http://` or `ws://` to a host that is not this machine: passwords and tokens
 * would cross the network in clear. Use `https://`/`wss://`, or pass `allowInsecure`
 * (CLI: `--insecure`) if you really mean it.
 */
export class InsecureTransportError extends Error {
  override readonly name = 'InsecureTransportError';
  constructor(readonly origin: string) {
    super(
      `refusing plain ${origin}: it is not loopback, so passwords and tokens would travel ` +
        'unencrypted; use https:// or wss://, or allow it explicitly (allowInsecure / --insecure)',
    );
  }
}

/**
 * An identity reset: a contact's published keys differ from the ones pinned, and no valid
 * continuity proof (a chain of changes each signed by the previous signing key) leads from
 * the pinned keys to them. Either the contact lost their keys and started over, or someone
 * (the server) is substituting keys. The pin is kept; compare the new fingerprint or safety
 * number with the contact out of band, then `GossipClient.trustContactKeys(username,
 * thatFingerprint)`. (A change with a valid proof is not an error: the SDK follows it.)
 */
export class KeyChangedError extends Error {
  override readonly name = 'KeyChangedError';
  /** Always true: the flag applications show loudly ("identity reset"). */
  readonly identityReset = true;
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
      `identity reset: the keys of ${username} changed without a proof signed by their ` +
        `previous key (fingerprint ${previousFingerprint} -> ${currentFingerprint}); ` +
        'verify the new fingerprint with them before trusting it',
    );
  }
}

/** `trustContactKeys` was given a fingerprint that is not the one published now. */
export class FingerprintMismatchError extends Error {
  override readonly name = 'FingerprintMismatchError';
  constructor(
    readonly username: string,
    /** What the user compared (digits only). */
    readonly expected: string,
    /** The fingerprint (or safety number, if 60 digits were given) of the published keys. */
    readonly actual: string,
  ) {
    super(
      `the fingerprint you compared does not match ${username}'s published keys: nothing was trusted`,
    );
  }
}

/**
 * A contact you had verified changed keys: nothing is sent to them until you compare the
 * new safety number and mark them verified again (`GossipClient.markVerified`).
 */
export class VerificationRequiredError extends Error {
  override readonly name = 'VerificationRequiredError';
  constructor(readonly username: string) {
    super(
      `${username} was verified, then their keys changed: compare the new safety number ` +
        'and verify them again before sending',
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

/**
 * A v2 delivery this client decrypted before (its id is in the session's received list):
 * the ack was lost (a crash or a dropped connection between decrypting and acking). The
 * `Messenger` acks it and does not show it again.
 */
export class DuplicateMessageError extends Error {
  override readonly name = 'DuplicateMessageError';
  constructor(
    readonly id: string,
    readonly from: string,
  ) {
    super(`message ${id} from ${from} was decrypted before: a redelivery`);
  }
}
