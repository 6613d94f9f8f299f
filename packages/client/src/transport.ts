/**
 * The seam between the SDK's crypto/session logic and a real-time connection.
 *
 * The delivery issue adds a WebSocket client that implements `MessageTransport` on
 * top of `ws` (Node) or `WebSocket` (browsers), and a messenger that drives it:
 *
 * - outgoing: `GossipClient.prepareSend(to, text)` returns the `send` frames to
 *   transmit in order (a `kind: "key"` frame first while the conversation key has not
 *   been confirmed); the messenger keeps each until `accepted {id}`, resends it with
 *   the same id after a reconnect or `drain`, and reports an accepted key frame to
 *   `GossipClient.keyMessageAccepted(frame)` so later messages stop carrying it. An
 *   outbox that survives restarts is the messenger's job; without one, an unsent
 *   message is lost but the conversation is not (the key frame is re-sent).
 * - incoming: for each `deliver` frame the messenger dedupes by id, keeps the
 *   sender's order, calls `GossipClient.openDeliver(frame)` (key messages are
 *   handled there and yield `{ kind: "key" }`), hands messages to the application,
 *   and sends `ack` once the application's handler has returned. A message whose
 *   conversation key has not arrived yet throws `MissingKeyError('conversation')`:
 *   hold it (unacked) until the key message is handled.
 * - `contact` frames go to `GossipClient.openContactEvent(frame)`, then are acked.
 */
import type { ClientFrame, ServerFrame } from '@gossip/protocol';

/** Where a transport is in its life. */
export type TransportState = 'connecting' | 'open' | 'closed';

/** A bidirectional frame channel to a gateway. */
export interface MessageTransport {
  /** Hands a frame to the connection. Resolves once written, not once `accepted`. */
  send(frame: ClientFrame): Promise<void>;
  /** Subscribes to validated server frames. Returns the unsubscribe function. */
  onFrame(listener: (frame: ServerFrame) => void): () => void;
  /** Subscribes to connection state changes. Returns the unsubscribe function. */
  onStateChange(listener: (state: TransportState) => void): () => void;
  /** Closes the connection for good (no reconnect). */
  close(): Promise<void>;
}
