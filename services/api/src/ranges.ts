/**
 * The two byte-range headers of the attachment routes, parsed without trusting them: an
 * upload part's `Content-Range` and a download's `Range` (one range only).
 */

/** An inclusive byte range. */
export interface ByteRange {
  start: number;
  end: number;
}

const CONTENT_RANGE = /^bytes (\d{1,15})-(\d{1,15})\/(\d{1,15})$/;
const RANGE = /^bytes=(\d{1,15})-(\d{0,15})$/;

/**
 * `Content-Range: bytes START-END/TOTAL` of an upload part, or null when it is missing or
 * not of that form (END before START included).
 */
export function parseContentRange(
  header: string | undefined,
): (ByteRange & { total: number }) | null {
  const m = header === undefined ? null : CONTENT_RANGE.exec(header.trim());
  if (!m) return null;
  const [start, end, total] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return end < start ? null : { start, end, total };
}

/**
 * The range a download asks for in a file of `size` bytes: everything when there is no
 * `Range` header, the part `bytes=N-` or `bytes=N-M` names (M capped at the end), or
 * `'unsatisfiable'` for anything else (a start beyond the end, several ranges, a suffix
 * range, another unit), answered 416 with the size.
 */
export function parseRange(
  header: string | undefined,
  size: number,
): { range: ByteRange; partial: boolean } | 'unsatisfiable' {
  const whole = { range: { start: 0, end: size - 1 }, partial: false };
  if (header === undefined) return whole;
  const m = RANGE.exec(header.trim());
  if (!m) return 'unsatisfiable';
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { range: { start, end }, partial: true };
}
