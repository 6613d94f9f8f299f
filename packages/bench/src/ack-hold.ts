/**
 * A WebSocket factory for the backlog A/B of the shown scenario: it wraps another factory
 * and keeps the SDK's `ack` frames back until the server's `replayed` frame has come,
 * then sends them all. The SDK itself is unchanged; this asks whether acking while the
 * engine replays (so it deletes while it reads) slows the replay down.
 */
import type { WebSocketFactory, WebSocketLike } from '@gossip/client';

/** Whether a frame (as the SDK wrote or read it) is of `type`. */
function isType(data: unknown, type: string): boolean {
  try {
    return (JSON.parse(String(data)) as { type?: unknown }).type === type;
  } catch {
    return false;
  }
}

/** `inner`, with outgoing acks held until each connection's `replayed` frame. */
export function holdAcksUntilReplayed(inner: WebSocketFactory): WebSocketFactory {
  const factory: WebSocketFactory = (url, protocols, credential) => {
    const ws = inner(url, protocols, credential);
    let replayed = false;
    const held: string[] = [];
    const proxy: WebSocketLike = {
      get readyState() {
        return ws.readyState;
      },
      send(data) {
        if (!replayed && isType(data, 'ack')) held.push(data);
        else ws.send(data);
      },
      close: (code, reason) => ws.close(code, reason),
      onopen: null,
      onmessage: null,
      onclose: null,
      onerror: null,
    };
    ws.onopen = (ev) => proxy.onopen?.(ev);
    ws.onclose = (ev) => proxy.onclose?.(ev);
    ws.onerror = (ev) => proxy.onerror?.(ev);
    ws.onmessage = (ev) => {
      proxy.onmessage?.(ev);
      if (replayed || !isType(ev.data, 'replayed')) return;
      replayed = true;
      for (const data of held.splice(0)) ws.send(data);
    };
    return proxy;
  };
  if (inner.credential) factory.credential = inner.credential;
  return factory;
}
