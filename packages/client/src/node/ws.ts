/**
 * Node's side of the WebSocket client: sockets from `ws` with the access token in an
 * `Authorization` header (not the URL, so it stays out of proxies' access logs), and a
 * refused upgrade reported as close code `4000 + status` so the client knows to refresh
 * the token; plus a file store for the Messenger's seen-set and outbox.
 */
import { join } from 'node:path';
import WebSocket from 'ws';
import { MAX_FRAME_BYTES, type SendFrame } from '@gossip/protocol';
import { refusedCloseCode, type WebSocketFactory, type WebSocketLike } from '../ws/socket.js';
import type { MessengerStore } from '../ws/store.js';
import { readJson, writePrivateJson } from './files.js';

/**
 * Largest frame the client takes from a gateway, in bytes. The biggest legitimate server
 * frame is a `deliver` with a body of MAX_BODY_CHARS plus its fields, under
 * MAX_FRAME_BYTES; twice that leaves room for frames added later. `ws` would otherwise
 * buffer up to 100 MiB per message from whatever answers at the URL.
 */
export const CLIENT_MAX_PAYLOAD_BYTES = 2 * MAX_FRAME_BYTES;

/** A `WebSocketFactory` over `ws`. */
export function nodeWebSocketFactory(
  opts: { handshakeTimeoutMs?: number; maxPayload?: number } = {},
): WebSocketFactory {
  return (url, protocols, token) => {
    const ws = new WebSocket(url, protocols, {
      headers: { authorization: `Bearer ${token}` },
      handshakeTimeout: opts.handshakeTimeoutMs ?? 10_000,
      // A larger frame closes the socket with 1009 instead of filling memory.
      maxPayload: opts.maxPayload ?? CLIENT_MAX_PAYLOAD_BYTES,
    });
    ws.on('unexpected-response', (req, res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      req.destroy();
      const onclose = (ws as unknown as WebSocketLike).onclose;
      // Detach so the abort's own close event is not reported twice.
      (ws as unknown as WebSocketLike).onclose = null;
      onclose?.({ code: refusedCloseCode(status), reason: `upgrade refused with HTTP ${status}` });
    });
    ws.on('error', () => undefined);
    return ws as unknown as WebSocketLike;
  };
}

interface DeliveryFile {
  format: 1;
  seen: string[];
  outbox: SendFrame[];
}

/**
 * The Messenger's state in `<dir>/delivery.json` (0600): handled delivery ids and the
 * outbox (ciphertext only). Writes are serialised.
 */
export class FileMessengerStore implements MessengerStore {
  private chain: Promise<unknown> = Promise.resolve();
  private cache: DeliveryFile | undefined;

  constructor(readonly dir: string) {}

  private get file(): string {
    return join(this.dir, 'delivery.json');
  }

  private async read(): Promise<DeliveryFile> {
    this.cache ??= (await readJson<DeliveryFile>(this.file)) ?? { format: 1, seen: [], outbox: [] };
    return this.cache;
  }

  private update(change: (f: DeliveryFile) => void): Promise<void> {
    const step = async (): Promise<void> => {
      const f = await this.read();
      change(f);
      await writePrivateJson(this.file, f);
    };
    const next = this.chain.then(step, step);
    this.chain = next.catch(() => undefined);
    return next;
  }

  async loadSeen(): Promise<string[]> {
    return [...(await this.read()).seen];
  }
  saveSeen(ids: string[]): Promise<void> {
    return this.update((f) => {
      f.seen = [...ids];
    });
  }
  async loadOutbox(): Promise<SendFrame[]> {
    return [...(await this.read()).outbox];
  }
  saveOutbox(frames: SendFrame[]): Promise<void> {
    return this.update((f) => {
      f.outbox = [...frames];
    });
  }
}
