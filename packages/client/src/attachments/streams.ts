/** Byte stream helpers shared by upload and download (Node and browsers alike). */

/**
 * A `ReadableStream` as an async iterable (not every browser has `for await` on streams).
 * Leaving the loop early cancels the stream, so a refused download closes its connection.
 */
export async function* readStream(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  let done = false;
  try {
    for (;;) {
      const next = await reader.read();
      if (next.done) {
        done = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!done) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

/** Joins `parts` (of `length` bytes in all) into one array. */
export function concatParts(parts: readonly Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
