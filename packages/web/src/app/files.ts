/**
 * Files in the chat: attach one (or paste an image) to send it, progress bars while it
 * uploads or downloads, received images shown inline from their decrypted thumbnail and
 * full size on click, every finished file offered for saving.
 *
 * A received file is downloaded (and verified by the SDK) inside the message handler,
 * before the message is acked: the server deletes the file once every recipient acked.
 * Files are kept in memory for the life of the page; the history keeps the line.
 */
import {
  MAX_THUMBNAIL_BYTES,
  type AttachmentRef,
  type ChatMessage,
  type Thumbnail,
} from '@gossip/client';
import { CryptoError, toBase64 } from '@gossip/crypto';
import { h } from './dom.js';
import { app, banner, describe } from './state.js';

/** A file as the page shows it. */
interface ShownFile {
  name: string;
  type: string;
  size: number;
  /** 0..1 while it moves; undefined once done. */
  progress?: number;
  /** A blob: URL of the whole file, once verified (or once sent). */
  url?: string;
  /** A data: URL of the thumbnail. */
  thumbnail?: string;
  error?: string;
}

/** Message id → file, for this page's life. */
const files = new Map<string, ShownFile>();

/** The text line a file message leaves in the history. */
export function fileLine(name: string, size: number): string {
  return `📎 ${name} (${size} bytes)`;
}

/** Downloads and verifies the file `m` carries (call before the handler returns). */
export async function receiveFile(m: ChatMessage & { attachment: AttachmentRef }): Promise<void> {
  const acc = app.account;
  if (!acc) return;
  const a = m.attachment;
  const shown: ShownFile = { name: a.name, type: a.type, size: a.size, progress: 0 };
  if (a.thumbnail) shown.thumbnail = `data:${a.thumbnail.type};base64,${a.thumbnail.data}`;
  files.set(m.id, shown);
  try {
    const data = await acc.messenger.download(a, {
      onProgress: ({ done, total }) => setProgress(m.id, done / total),
    });
    shown.url = URL.createObjectURL(new Blob([data as Uint8Array<ArrayBuffer>], { type: a.type }));
  } catch (err) {
    // Refused files are shown as such (and acked: fetching again gives the same bytes).
    if (!(err instanceof CryptoError)) throw err;
    shown.error = 'This file failed its integrity checks and was discarded.';
  } finally {
    delete shown.progress;
  }
}

/** Encrypts, uploads and sends `file` to `peer`; returns the message id. */
export async function sendFile(peer: string, file: File): Promise<string | undefined> {
  const acc = app.account;
  if (!acc) return undefined;
  const bar = document.getElementById('upload');
  const progress = bar?.querySelector('progress');
  if (bar) bar.hidden = false;
  try {
    const opts: Parameters<typeof acc.messenger.sendFile>[2] = {
      name: file.name || 'pasted',
      type: file.type || 'application/octet-stream',
      onProgress: ({ done, total }) => {
        if (progress) progress.value = total === 0 ? 1 : done / total;
      },
    };
    const thumbnail = await thumbnailOf(file);
    if (thumbnail) opts.thumbnail = thumbnail;
    const { id } = await acc.messenger.sendFile(peer, file, opts);
    const shown: ShownFile = { name: opts.name, type: opts.type!, size: file.size };
    shown.url = URL.createObjectURL(file);
    if (thumbnail) shown.thumbnail = `data:${thumbnail.type};base64,${thumbnail.data}`;
    files.set(id, shown);
    return id;
  } catch (err) {
    banner(`File not sent: ${describe(err)}`);
    return undefined;
  } finally {
    if (bar) bar.hidden = true;
    if (progress) progress.value = 0;
  }
}

/** The file part of message `id`'s line, if it carries one. */
export function fileView(id: string): HTMLElement | null {
  const f = files.get(id);
  if (!f) return null;
  const image =
    f.type.startsWith('image/') && (f.thumbnail ?? f.url)
      ? h('img', {
          class: 'file-image',
          src: f.thumbnail ?? f.url,
          alt: f.name,
          'data-testid': 'file-image',
          onclick: (ev: Event) => {
            // Full size on click (the thumbnail is small); again to go back.
            const img = ev.currentTarget as HTMLImageElement;
            if (!f.url) return;
            const full = img.classList.toggle('full');
            img.src = full ? f.url : (f.thumbnail ?? f.url);
            img.dataset.full = String(full);
          },
        })
      : null;
  return h(
    'div',
    { class: 'file', 'data-testid': 'file' },
    image,
    f.progress !== undefined
      ? h('progress', { max: 1, value: f.progress, 'data-testid': 'file-progress' })
      : null,
    f.error ? h('span', { class: 'warn', 'data-testid': 'file-error' }, f.error) : null,
    f.url
      ? h('a', { href: f.url, download: f.name, 'data-testid': 'file-save' }, `Save ${f.name}`)
      : null,
  );
}

function setProgress(id: string, value: number): void {
  const f = files.get(id);
  if (f) f.progress = value;
  const bar = document.querySelector<HTMLProgressElement>(
    `[data-id="${CSS.escape(id)}"] [data-testid=file-progress]`,
  );
  if (bar) bar.value = value;
}

/** A JPEG preview of an image, at most 160 px and MAX_THUMBNAIL_BYTES, or undefined. */
async function thumbnailOf(file: File): Promise<Thumbnail | undefined> {
  if (!file.type.startsWith('image/') || typeof createImageBitmap !== 'function') return undefined;
  try {
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, 160 / Math.max(bitmap.width, bitmap.height));
    const canvas = new OffscreenCanvas(
      Math.max(1, Math.round(bitmap.width * scale)),
      Math.max(1, Math.round(bitmap.height * scale)),
    );
    canvas.getContext('2d')?.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.7 });
    if (blob.size > MAX_THUMBNAIL_BYTES) return undefined;
    return { type: 'image/jpeg', data: toBase64(new Uint8Array(await blob.arrayBuffer())) };
  } catch {
    return undefined; // not an image the browser can decode: sent without a preview
  }
}
