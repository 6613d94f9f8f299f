/**
 * The CLI's real-time commands, over the SDK's Messenger:
 *
 *     gossip send CONTACT TEXT   send one message, wait until the server accepted it
 *     gossip listen              print incoming messages (and ack them) until Ctrl-C
 *     gossip chat CONTACT        type lines to send; see replies, times and ticks
 *
 * Messages are acked only after they were printed. Delivery ticks: `✓` accepted by the
 * server, `✓✓` read by the contact's device (it acked).
 */
import { createInterface } from 'node:readline';
import type { GossipClient } from '../gossip.js';
import { FileMessengerStore, nodeWebSocketFactory } from '../node/ws.js';
import { Messenger, type ChatMessage, type MessengerError } from '../ws/messenger.js';
import { filesFolder, saveReceivedFile } from './files.js';
import { UsageError } from './profile.js';
import { printable } from './terminal.js';

export interface ChatIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

export interface ChatContext {
  client: GossipClient;
  /** The account folder (the Messenger's seen-set and outbox live there). */
  dir: string;
  gateway: string;
  io: ChatIo;
  /** Resolves when the command should end (Ctrl-C); @default SIGINT or SIGTERM */
  stopSignal?: Promise<void>;
  /** Where received files are saved. @default `files/` in the account folder */
  filesDir?: string;
}

/** The default gateway for an api URL: same host, port 8081, path /ws. */
export function defaultGateway(server: string): string {
  const u = new URL(server);
  return `${u.protocol === 'https:' ? 'wss' : 'ws'}://${u.hostname}:8081/ws`;
}

/** Checks a `--gateway` URL. */
export function normaliseGateway(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`--gateway must be a URL like ws://127.0.0.1:8081/ws, not "${url}"`);
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') {
    throw new UsageError(`--gateway must be a ws:// or wss:// URL, not "${url}"`);
  }
  if (u.pathname === '/') u.pathname = '/ws';
  return u.toString();
}

function clock(ms: number): string {
  return new Date(ms).toTimeString().slice(0, 8);
}

/** The Messenger every CLI command uses: the account's stores, progress on stderr. */
export function messenger(ctx: ChatContext): Messenger {
  const m = new Messenger({
    gossip: ctx.client,
    url: ctx.gateway,
    webSocket: nodeWebSocketFactory(),
    store: new FileMessengerStore(ctx.dir),
  });
  let lastState = '';
  m.on('connection', ({ state, url }) => {
    if (state === lastState) return;
    lastState = state;
    if (state === 'open') ctx.io.err(`connected to ${url}`);
    else if (state === 'connecting') ctx.io.err('connecting...');
  });
  m.on('error', (e) => ctx.io.err(printable(describe(e))));
  m.on('contact', (e) => {
    if (e.event === 'key-changed' && 'own' in e) {
      ctx.io.err(
        e.replaced
          ? 'WARNING: another session published new keys for your account: this machine can no ' +
              'longer read new messages (copy the new key folder here, or rotate keys again)'
          : `${clock(e.at)} * your keys changed (key version from this machine)`,
      );
      return;
    }
    const what: Record<string, string> = {
      request: 'wants to be your contact (gossip accept ' + e.from + ')',
      accepted: 'accepted your contact request',
      rejected: 'rejected your contact request',
      removed: 'removed you from their contacts',
      blocked: 'blocked you',
      unblocked: 'unblocked you',
      'key-changed':
        'changed their keys' +
        ('needsVerification' in e && e.needsVerification
          ? ': you had verified them, so nothing is sent until you verify again (gossip fingerprint ' +
            e.from +
            ')'
          : ' (signed by their previous key; compare safety numbers: gossip fingerprint ' +
            e.from +
            ')'),
    };
    if (e.event === 'key-changed' && 'error' in e && e.error) return; // reported as key_changed
    const line = Object.hasOwn(what, e.event) ? what[e.event] : e.event;
    ctx.io.out(printable(`${clock(e.at)} * ${e.from} ${line}`));
  });
  return m;
}

function describe(e: MessengerError): string {
  switch (e.kind) {
    case 'connection':
      return `${e.fatal ? 'error' : 'warning'}: ${e.error.message}`;
    case 'send_failed':
      return `error: message to ${e.to} refused: ${e.message} (${e.code})`;
    case 'server':
      return `warning: ${e.message} (${e.code})`;
    case 'key_changed':
      return (
        `WARNING: IDENTITY RESET for ${e.from}: their keys changed without a proof signed by ` +
        `the keys you trusted (${e.error.message}); compare fingerprints, then ` +
        `\`gossip trust ${e.from} FINGERPRINT\``
      );
    case 'handler_failed':
      return `warning: could not show a message from ${e.from}; it will come again`;
    case 'gap':
      return (
        `warning: too many messages from ${e.from} went missing to read this one (${e.id}); ` +
        'the next message you send them starts a new v2 session'
      );
    default:
      return `warning: a message from ${e.from} could not be read (${e.kind}): ${e.error.message}`;
  }
}

function printMessage(io: ChatIo, m: ChatMessage): void {
  io.out(`${clock(m.sentAt)} ${printable(m.from)}: ${printable(m.text)}`);
}

/** The handler of `listen` and `chat`: prints a message, or saves the file it carries. */
async function handler(
  ctx: ChatContext,
  m: Messenger,
): Promise<(msg: ChatMessage) => Promise<void>> {
  const dir = await filesFolder(ctx.filesDir, ctx.dir);
  return async (msg) => {
    // Fetched before the handler returns: the ack that follows lets the server delete it.
    if (msg.attachment) await saveReceivedFile(m, msg, dir, ctx.io);
    else printMessage(ctx.io, msg);
  };
}

function waitForStop(ctx: ChatContext): Promise<void> {
  if (ctx.stopSignal) return ctx.stopSignal;
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

/** `gossip send CONTACT TEXT`: exit 0 once the server accepted it. */
export async function sendCommand(ctx: ChatContext, to: string, text: string): Promise<number> {
  const m = messenger(ctx);
  // No message handler: incoming messages stay unacked for `listen` or `chat` to show.
  await m.start();
  try {
    await m.waitUntilOpen(15_000);
    const { id } = await m.send(to, text);
    await m.whenState(id, 'accepted', 15_000);
    ctx.io.out(`sent to ${to} ✓ (${id})`);
    return 0;
  } finally {
    await m.stop();
  }
}

/** `gossip listen`: prints incoming messages (then acks them) until stopped. */
export async function listenCommand(ctx: ChatContext): Promise<number> {
  const m = messenger(ctx);
  m.onMessage(await handler(ctx, m));
  m.on('signal', (s) => {
    if (s.signal === 'typing') ctx.io.err(`(${s.from} is typing...)`);
  });
  await m.start();
  ctx.io.err(`listening as ${ctx.client.username}; Ctrl-C to stop`);
  await waitForStop(ctx);
  await m.stop();
  return 0;
}

/** `gossip chat CONTACT`: interactive. */
export async function chatCommand(ctx: ChatContext, peer: string): Promise<number> {
  if (peer === ctx.client.username) throw new UsageError('you cannot chat with yourself');
  const m = messenger(ctx);
  const mine = new Map<string, string>();
  m.onMessage(await handler(ctx, m));
  m.on('status', (s) => {
    const text = mine.get(s.id);
    if (text === undefined) return;
    if (s.state === 'accepted') ctx.io.out(`${clock(s.at)} ✓  ${text}`);
    if (s.state === 'delivered') ctx.io.out(`${clock(s.at)} ✓✓ ${text}`);
    if (s.state === 'failed') ctx.io.out(`${clock(s.at)} ✗  ${text} (${s.code ?? 'failed'})`);
  });
  m.on('signal', (s) => {
    if (s.from === peer && s.signal === 'typing') ctx.io.err(`(${peer} is typing...)`);
  });
  await m.start();
  ctx.io.err(
    `chatting with ${peer} as ${ctx.client.username}; type a line to send, Ctrl-D to quit`,
  );
  const v2 = await ctx.client.v2Status(peer);
  ctx.io.err(
    v2.session
      ? `end-to-end: v2 (ratchet session with ${peer})`
      : `end-to-end: no v2 session with ${peer} yet (v2 from your next message if they publish v2 keys, else v1)`,
  );
  const rl = createInterface({ input: process.stdin, terminal: false });
  const done = new Promise<void>((resolve) => rl.once('close', () => resolve()));
  rl.on('line', (line) => {
    const text = line.trimEnd();
    if (text === '') return;
    m.send(peer, text).then(
      ({ id }) => mine.set(id, text),
      (err: unknown) => ctx.io.err(`error: ${err instanceof Error ? err.message : String(err)}`),
    );
  });
  await Promise.race([done, waitForStop(ctx)]);
  rl.close();
  // Give queued sends a moment to be accepted before leaving (they stay in the outbox).
  const deadline = Date.now() + 5000;
  while (m.pendingSends > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await m.stop();
  return 0;
}
