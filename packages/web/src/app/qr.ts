/**
 * The safety number as a QR code, for the other side to compare. The code holds the text
 * `GOSSIP-SAFETY:1:` and the 60 digits (QR alphanumeric mode, error correction M); the
 * prefix names what it is and its version, so a scanner can refuse anything else.
 *
 * Encoded with `qr` (paulmillr's zero-dependency QR encoder and decoder, the author of
 * the @noble/hashes already bundled); drawn on a canvas, one square per module, with the
 * four-module quiet zone the standard asks for.
 */
import encodeQR from 'qr';
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
