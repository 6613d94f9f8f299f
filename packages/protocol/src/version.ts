/**
 * Protocol versioning. One integer names the wire protocol; it appears in the REST
 * path prefix (`/v1`) and in the WebSocket subprotocol (`gossip.v1`).
 *
 * Within one version changes are additive only: new optional fields on server frames
 * and responses, new frame types or error codes that old clients may ignore. Removing or
 * re-typing a field, or adding a required client field, needs a new version.
 */

/** The wire protocol version this package describes. */
export const PROTOCOL_VERSION = 1 as const;

/** Path prefix of every versioned REST endpoint. */
export const REST_PREFIX = `/v${PROTOCOL_VERSION}` as const;

/** The `Sec-WebSocket-Protocol` value a client offers and the gateway selects. */
export const WS_SUBPROTOCOL = `gossip.v${PROTOCOL_VERSION}` as const;

/** The WebSocket path on the gateway. */
export const WS_PATH = '/ws' as const;
