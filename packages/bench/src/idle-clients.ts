/**
 * A child process of the connections scenario that holds idle, authenticated WebSocket
 * connections to a gateway (several of these run at once, so no one process nears its
 * file-descriptor limit and each can use its own loopback source address: one address has
 * only ~28k ephemeral ports).
 *
 * Over IPC, from the parent:
 *   { op: 'open', url, tokens, localAddress, concurrency } -> { op: 'opened', ok, failed, error? }
 *   { op: 'status' } -> { op: 'status', open, dropped }
 *   { op: 'exit' } -> closes everything and exits
 * A connection counts as open once the gateway's `hello` arrived (the upgrade passed its
 * token check). The first failure stops the batch: the parent stops there and says why.
 */
import WebSocket from 'ws';
import { WS_SUBPROTOCOL } from '@gossip/protocol';

export interface OpenRequest {
  op: 'open';
  url: string;
  tokens: string[];
  localAddress: string;
  concurrency: number;
}
export type ToWorker = OpenRequest | { op: 'status' } | { op: 'exit' };
export type FromWorker =
  | { op: 'opened'; ok: number; failed: number; error?: string }
  | { op: 'status'; open: number; dropped: number };

const sockets: WebSocket[] = [];
let dropped = 0;
const reply = (m: FromWorker): void => {
  process.send?.(m);
};

function openOne(url: string, token: string, localAddress: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, [WS_SUBPROTOCOL], {
      headers: { authorization: `Bearer ${token}` },
      localAddress,
      handshakeTimeout: 60_000,
      perMessageDeflate: false,
    });
    let open = false;
    ws.on('error', (err) => {
      if (!open) reject(err);
    });
    ws.once('unexpected-response', (_req, res) => {
      reject(new Error(`upgrade refused with ${res.statusCode}`));
      res.resume();
    });
    ws.once('message', () => {
      open = true;
      sockets.push(ws);
      resolve();
    });
    ws.once('close', (code) => {
      if (open) dropped++;
      else reject(new Error(`closed with ${code} before hello`));
    });
  });
}

async function openAll(r: OpenRequest): Promise<void> {
  let next = 0;
  let ok = 0;
  let failed = 0;
  let error: string | undefined;
  const lane = async (): Promise<void> => {
    while (error === undefined && next < r.tokens.length) {
      const token = r.tokens[next++]!;
      try {
        await openOne(r.url, token, r.localAddress);
        ok++;
      } catch (err) {
        failed++;
        error ??=
          err instanceof Error
            ? `${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`.trim()
            : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: r.concurrency }, lane));
  reply(error === undefined ? { op: 'opened', ok, failed } : { op: 'opened', ok, failed, error });
}

process.on('message', (m: ToWorker) => {
  switch (m.op) {
    case 'open':
      void openAll(m);
      return;
    case 'status':
      reply({ op: 'status', open: sockets.filter((s) => s.readyState === s.OPEN).length, dropped });
      return;
    case 'exit':
      for (const s of sockets) s.terminate();
      process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
