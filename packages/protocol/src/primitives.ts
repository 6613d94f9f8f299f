/** Small schemas reused by the REST bodies and the WebSocket frames. */
import { Type, type Static } from '@sinclair/typebox';
import { MESSAGE_ID_PATTERN } from './ids.js';
import {
  DISPLAY_NAME_MAX,
  MAX_SPKI_BASE64_CHARS,
  PASSWORD_MAX,
  PASSWORD_MIN,
  USERNAME_MAX,
  USERNAME_MIN,
  USERNAME_PATTERN,
} from './limits.js';

/** Standard (RFC 4648 §4) base64 with padding. */
export const BASE64_PATTERN = '^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$';

export const Username = Type.String({
  pattern: USERNAME_PATTERN,
  minLength: USERNAME_MIN,
  maxLength: USERNAME_MAX,
  description: 'Lowercase ASCII letters, digits and `_`, 3 to 32 characters. Immutable.',
});
export type Username = Static<typeof Username>;

export const Password = Type.String({
  minLength: PASSWORD_MIN,
  maxLength: PASSWORD_MAX,
  description: 'Sent only over TLS to the api; stored as a scrypt hash, never logged.',
});

export const DisplayName = Type.String({
  minLength: 1,
  maxLength: DISPLAY_NAME_MAX,
  // No control characters (C0, DEL, C1): they break terminals and logs.
  pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f]+$',
});

export const MessageId = Type.String({
  pattern: MESSAGE_ID_PATTERN,
  description: 'Lowercase random UUID (version 4), chosen by the sender; resends reuse it.',
});
export type MessageId = Static<typeof MessageId>;

/** Milliseconds since the Unix epoch (UTC), set by the server. */
export const EpochMs = Type.Integer({ minimum: 0, description: 'Milliseconds since the epoch.' });

/** ISO 8601 timestamp string, set by the server. */
export const IsoTime = Type.String({ description: 'ISO 8601 UTC timestamp.' });

/** A public key: DER SubjectPublicKeyInfo in standard base64. */
export function Base64Spki(description = 'A public key: DER SubjectPublicKeyInfo, base64.') {
  return Type.String({
    pattern: BASE64_PATTERN,
    minLength: 4,
    maxLength: MAX_SPKI_BASE64_CHARS,
    description,
  });
}

/** A user's published public keys. Private keys never leave the client. */
export const PublicKeys = Type.Object(
  {
    wrappingKey: Base64Spki('RSA-OAEP (SHA-256) public key, 3072 to 4096 bits, base64 SPKI.'),
    signingKey: Base64Spki('Ed25519 public key, base64 SPKI.'),
  },
  {
    additionalProperties: false,
    description:
      'The shape of packages/crypto exportPublicKeys(). Signing is Ed25519 only in v1; ' +
      'another algorithm would arrive as a new optional field.',
  },
);
export type PublicKeys = Static<typeof PublicKeys>;
