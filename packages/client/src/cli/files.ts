/**
 * The CLI's files: `gossip send-file CONTACT PATH`, and saving the files that arrive while
 * `listen` or `chat` runs into the folder the user chose (`--files DIR`, else
 * `GOSSIP_FILES`, else `files/` in the account folder).
 *
 * A received file is written to a hidden temporary file beside its destination and linked
 * to its final name only after the SDK verified every chunk and the digest, so a refused
 * download leaves nothing behind. Linking fails rather than replaces when the name is
 * taken, so an existing file is never overwritten: `name (1).ext` and so on are tried.
 */
import { createReadStream } from 'node:fs';
import { link, mkdir, open, stat, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, extname, join } from 'node:path';
import { CryptoError } from '@gossip/crypto';
import type { ChatMessage, Messenger } from '../ws/messenger.js';
import { UsageError } from './profile.js';
import { printable } from './terminal.js';

/** Where the file commands print (the chat commands' `ChatIo`). */
interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** Media types by extension, for what the recipient is told; anything else is octet-stream. */
const TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.pdf': 'application/pdf',
  '.txt': 'text/plain',
  '.json': 'application/json',
  '.zip': 'application/zip',
};

/** The media type announced for a local file. */
export function mediaTypeOf(path: string): string {
  return TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * A file name from a message, made safe to create in the files folder: no directories, no
 * control characters, no leading dots (nothing hidden, no `..`), at most 200 characters.
 */
export function safeFileName(name: string): string {
  const cleaned = name
    .replace(/[\\/]/g, '_')
    .replace(/\p{Cc}/gu, '')
    .replace(/^[.\s]+/, '')
    .trim()
    .slice(0, 200);
  return cleaned === '' ? 'file' : cleaned;
}

/** `gossip send-file CONTACT PATH`: exit 0 once the message carrying it was accepted. */
export async function sendFileCommand(
  io: Io,
  m: Messenger,
  to: string,
  path: string,
): Promise<number> {
  let size: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new UsageError(`${path} is not a file`);
    size = s.size;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read ${path}: ${(err as Error).message}`);
  }
  await m.start();
  await m.waitUntilOpen(15_000);
  let shown = -1;
  const { id } = await m.sendFile(to, createReadStream(path), {
    name: basename(path),
    type: mediaTypeOf(path),
    size,
    onProgress: ({ done, total }) => {
      const pct = Math.floor((done / total) * 100);
      if (pct >= shown + 10 || done === total) {
        shown = pct;
        io.err(`uploading ${basename(path)}: ${pct}%`);
      }
    },
  });
  await m.whenState(id, 'accepted', 15_000);
  io.out(`sent ${printable(basename(path))} (${size} bytes) to ${to} ✓ (${id})`);
  return 0;
}

/** The folder received files go to (`chosen`, else `files/` in the account folder), created. */
export async function filesFolder(chosen: string | undefined, accountDir: string): Promise<string> {
  const dir = chosen ?? join(accountDir, 'files');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/**
 * Downloads the file `msg` carries into `dir` and prints where it went. A file that fails
 * its checks is reported and dropped (the message is still acked: fetching it again gives
 * the same bytes); other failures throw, so the message comes again and is retried.
 */
export async function saveReceivedFile(
  m: Messenger,
  msg: ChatMessage,
  dir: string,
  io: Io,
): Promise<void> {
  const a = msg.attachment;
  if (!a) return;
  const from = printable(msg.from);
  const temp = join(dir, `.incoming-${randomBytes(8).toString('hex')}`);
  const file = await open(temp, 'wx', 0o600);
  try {
    try {
      await m.downloadTo(a, { write: (chunk) => file.write(chunk).then(() => undefined) });
      await file.sync();
    } finally {
      await file.close();
    }
    const saved = await linkFree(temp, dir, safeFileName(a.name));
    const caption = msg.text === '' ? '' : ` "${printable(msg.text)}"`;
    io.out(`${from} sent ${printable(a.name)} (${a.size} bytes)${caption}: saved as ${saved}`);
  } catch (err) {
    if (err instanceof CryptoError) {
      io.err(
        `error: the file ${printable(a.name)} from ${from} failed its checks and was not saved (${err.message})`,
      );
      return;
    }
    throw err;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

/** Links `temp` under `name` in `dir`, or `name (1)`, `name (2)`... if taken; never replaces. */
async function linkFree(temp: string, dir: string, name: string): Promise<string> {
  const ext = extname(name);
  const stem = name.slice(0, name.length - ext.length);
  for (let n = 0; ; n++) {
    const target = join(dir, n === 0 ? name : `${stem} (${n})${ext}`);
    try {
      await link(temp, target);
      return target;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || n >= 1000) throw err;
    }
  }
}
