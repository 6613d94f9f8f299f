/**
 * One socket write per round of amqplib's frame writer instead of one per frame.
 *
 * amqplib 0.10.x queues each channel's frames (a publish's method, header and body in one
 * buffer, an ack, ...) in a per-channel stream; its Mux, scheduled with setImmediate when one
 * of them becomes readable, then moves every queued chunk to the socket with its own
 * `socket.write`, and an uncorked socket turns each into one system call. Corking the socket
 * for the length of that one synchronous round and uncorking at its end hands Node all the
 * round's chunks at once, written with one writev. Nothing waits longer than before: the
 * uncork is in the same round, before it returns. A round still stops at the socket's
 * high-water mark (`write` returning false) and the next starts on 'drain', as before.
 * Heartbeats and channel-0 frames, written straight to the socket, are untouched.
 */
import type { Writable } from 'node:stream';
import type { ChannelModel } from 'amqplib';

/** The amqplib 0.10 internals reached: the connection's socket and its frame writer. */
interface Internals {
  connection?: {
    stream?: Writable;
    muxer?: { _readIncoming?: () => void };
  };
}

/**
 * Makes each round of `model`'s frame writer one socket write. Returns false, changing
 * nothing, when amqplib's internals are not the shape this expects (another version).
 */
export function coalesceWrites(model: ChannelModel): boolean {
  const { stream, muxer } = (model as unknown as Internals).connection ?? {};
  const round = muxer?._readIncoming;
  if (!stream || !muxer || typeof round !== 'function' || typeof stream.cork !== 'function') {
    return false;
  }
  muxer._readIncoming = function corkedRound(this: unknown) {
    stream.cork();
    try {
      round.call(this);
    } finally {
      stream.uncork();
    }
  };
  return true;
}
