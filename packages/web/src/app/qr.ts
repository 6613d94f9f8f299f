/**
 * The safety number as a QR code, for the other side to compare. The code holds the text
 * `GOSSIP-SAFETY:1:` and the 60 digits (QR alphanumeric mode, error correction M); the
 * prefix names what it is and its version, so a scanner can refuse anything else.
 *
 * Encoded with `qr` (paulmillr's zero-dependency QR encoder and decoder, the author of
 * the @noble/hashes already bundled); drawn on a canvas, one square per module, with the
 * four-module quiet zone the standard asks for. **Scan their code** reads the other
 * side's code from the camera (the same package's decoder) and says whether it is this
 * screen's safety number.
 */
import encodeQR from 'qr';
import decodeQR from 'qr/decode.js';
import { h } from './dom.js';

/** What a Gossip safety-number QR code starts with; the digits follow. */
export const SAFETY_QR_PREFIX = 'GOSSIP-SAFETY:1:';

/** The text a QR code of this safety number holds (spaces and line breaks dropped). */
export function safetyQrText(safetyNumber: string): string {
  const digits = safetyNumber.replace(/\s+/g, '');
  if (!/^\d{60}$/.test(digits)) throw new Error('a safety number is 60 digits');
  return SAFETY_QR_PREFIX + digits;
}

/** Pixels per module: a version 4 code (33 modules and the quiet zone) is 246 px. */
const SCALE = 6;
const QUIET_ZONE = 4;

/** A canvas showing the QR code of this safety number. */
export function safetyQrCanvas(safetyNumber: string): HTMLCanvasElement {
  const text = safetyQrText(safetyNumber);
  const modules = encodeQR(text, 'raw', { ecc: 'medium', border: QUIET_ZONE });
  const n = modules.length;
  const canvas = h('canvas', {
    class: 'qr',
    width: n * SCALE,
    height: n * SCALE,
    'data-testid': 'safety-qr',
    'data-modules': n,
    role: 'img',
    'aria-label': 'QR code of the safety number',
  });
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser cannot draw on a canvas');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = '#000000';
  modules.forEach((row, y) =>
    row.forEach((dark, x) => {
      if (dark) ctx.fillRect(x * SCALE, y * SCALE, SCALE, SCALE);
    }),
  );
  return canvas;
}

/** How a scanned code compares with the safety number on this screen. */
export type ScanResult =
  { match: true } | { match: false; reason: 'different' | 'not-gossip'; scanned: string };

/** Compares the text of a scanned code with this screen's safety number. */
export function compareScanned(scanned: string, safetyNumber: string): ScanResult {
  if (scanned === safetyQrText(safetyNumber)) return { match: true };
  return {
    match: false,
    reason: scanned.startsWith(SAFETY_QR_PREFIX) ? 'different' : 'not-gossip',
    scanned,
  };
}

/** Time between two decode attempts on the camera picture. */
const SCAN_EVERY_MS = 150;

/**
 * Reads QR codes from the camera into `video` until one decodes, then stops the camera
 * and calls `found` with its text. Returns `stop` (idempotent). `failed` gets a camera
 * error (no camera, permission refused).
 */
export function scanQr(
  video: HTMLVideoElement,
  found: (text: string) => void,
  failed: (err: unknown) => void,
): () => void {
  let stream: MediaStream | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const stop = (): void => {
    stopped = true;
    if (timer) clearTimeout(timer);
    for (const t of stream?.getTracks() ?? []) t.stop();
    video.srcObject = null;
  };
  const canvas = document.createElement('canvas');
  const tick = async (): Promise<void> => {
    if (stopped) return;
    const { videoWidth: w, videoHeight: hgt } = video;
    if (w > 0 && hgt > 0) {
      canvas.width = w;
      canvas.height = hgt;
      const ctx = canvas.getContext('2d', { willReadFrequently: true });
      ctx?.drawImage(video, 0, 0, w, hgt);
      const frame = ctx?.getImageData(0, 0, w, hgt);
      let text: string | undefined;
      try {
        text = frame && decodeQR({ width: w, height: hgt, data: frame.data });
      } catch {
        text = undefined; // no code in this picture
      }
      if (text !== undefined && !stopped) {
        stop();
        found(text);
        return;
      }
    }
    timer = setTimeout(() => void tick(), SCAN_EVERY_MS);
  };
  navigator.mediaDevices
    .getUserMedia({ video: { facingMode: 'environment' }, audio: false })
    .then(async (s) => {
      stream = s;
      if (stopped) return stop();
      video.srcObject = s;
      await video.play();
      await tick();
    })
    .catch((err: unknown) => {
      stop();
      failed(err);
    });
  return stop;
}
