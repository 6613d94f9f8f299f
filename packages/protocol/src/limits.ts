/**
 * Size and shape limits shared by the services (which enforce them) and the SDK (which
 * should never produce a frame the server will refuse).
 */

/** Largest WebSocket frame (UTF-8 bytes of the JSON text) a server accepts. */
export const MAX_FRAME_BYTES = 96 * 1024;

/**
 * Largest `body` of a `send` frame, in characters. Bodies are opaque ciphertext
 * envelopes made of ASCII (base64/JSON), so characters equal bytes.
 */
export const MAX_BODY_CHARS = 64 * 1024;

/** Largest optional `body` of an ephemeral `signal` frame, in characters. */
export const MAX_SIGNAL_BODY_CHARS = 8 * 1024;

/** Most ids in one `ack` frame. */
export const MAX_ACK_IDS = 256;

/** Usernames: lowercase ASCII letters, digits and `_`, 3 to 32 characters. */
export const USERNAME_PATTERN = '^[a-z0-9_]{3,32}$';
export const USERNAME_MIN = 3;
export const USERNAME_MAX = 32;

/** Passwords: 8 to 256 characters (any Unicode). */
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 256;

/** Display names: 1 to 64 characters. */
export const DISPLAY_NAME_MAX = 64;

/** RSA-OAEP wrapping keys: modulus length bounds in bits. */
export const RSA_MIN_BITS = 3072;
export const RSA_MAX_BITS = 4096;

/**
 * Longest base64 SPKI public key accepted (an RSA-4096 SPKI is 550 bytes, 736 base64
 * characters; this leaves room for the odd encoding, never for a private key).
 */
export const MAX_SPKI_BASE64_CHARS = 1024;

/** Largest avatar image in bytes. */
export const MAX_AVATAR_BYTES = 256 * 1024;

/** Avatar image types, recognised by their magic bytes (the Content-Type must agree). */
export const AVATAR_CONTENT_TYPES = ['image/png', 'image/jpeg', 'image/webp'] as const;

/** Username search: prefix length and page size bounds. */
export const SEARCH_PREFIX_MAX = USERNAME_MAX;
export const SEARCH_LIMIT_MAX = 50;
export const SEARCH_LIMIT_DEFAULT = 20;

/** Longest refresh token string accepted (they are 43 base64url characters). */
export const MAX_REFRESH_TOKEN_CHARS = 128;

/** Longest opaque key envelope carried by a contact accept. */
export const MAX_KEY_ENVELOPE_CHARS = 16 * 1024;

/** Most key changes the directory keeps and serves per user (`KeysResponse.keyChain`). */
export const MAX_KEY_CHAIN = 16;

/** Most one-time prekeys in one `PUT /v1/me/prekeys` (issue 16, packages/protocol prekeys.ts). */
export const MAX_ONE_TIME_PREKEYS_PER_UPLOAD = 100;

/** Most one-time prekeys one account holds in the directory at once. */
export const MAX_ONE_TIME_PREKEYS_STORED = 200;
