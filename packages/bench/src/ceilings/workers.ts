/** Concurrent workers over a shared list of jobs, for the ceiling measurements. */

/**
 * Runs `job(i)` for i = 0..n-1 on `concurrency` workers (each takes the next i when its
 * previous job is done) and returns the seconds it took and how many jobs completed. The
 * count goes up after each `await`: `done += await job()` would read `done` before the
 * await and lose the updates of the workers that finished meanwhile.
 */
export async function runJobs(
  n: number,
  concurrency: number,
  job: (i: number) => Promise<void>,
): Promise<{ seconds: number; done: number }> {
  let next = 0;
  let done = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      await job(i);
      done++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return { seconds: (performance.now() - t0) / 1000, done };
}
