/** Waiting in tests for something the real servers do asynchronously. */

/**
 * Polls `check` until it returns a truthy value and resolves with it; after
 * `timeoutMs` fails with `timed out waiting for <what>; last: <the last error or value>`,
 * the last error also as cause.
 */
export async function eventually<T>(
  check: () => Promise<T | undefined | false | null> | T | undefined | false | null,
  what: string,
  timeoutMs = 15_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const seen = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out waiting for ${what}; last: ${seen}`, {
        cause: last instanceof Error ? last : undefined,
      });
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
