/** Small file helpers: private (0600) files written atomically, in private (0700) folders. */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** Creates a folder (and parents) readable only by the owner. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode is masked by the umask and ignored for existing folders.
  await chmod(dir, 0o700);
}

/**
 * Writes JSON to `file` with mode 0600: to a temporary file beside it first, flushed to
 * disk (fsync), then renamed over `file` and the folder flushed too, so a crash leaves the
 * old file or the new one, never a half-written key file, and a write that resolved
 * survives a power loss.
 */
export async function writePrivateJson(file: string, value: unknown): Promise<void> {
  const dir = dirname(file);
  await ensurePrivateDir(dir);
  const tmp = join(dir, `.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(JSON.stringify(value, null, 2) + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDir(dir);
}

/** fsync of a folder, so a rename in it is durable (not supported on every platform). */
async function syncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Windows cannot open a folder for fsync; the rename is still atomic there.
  } finally {
    await handle?.close();
  }
}

/** Reads JSON from `file`, or `undefined` when it does not exist. */
export async function readJson<T>(file: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`${file} is not valid JSON`, { cause: err });
  }
}

/**
 * Runs `step` holding the lock file `lock` (created exclusively, holding this process id,
 * removed after the step), so processes sharing a folder take turns. A lock whose process
 * is gone, or older than `staleMs`, is taken over; after `waitMs` of waiting it throws.
 */
export async function withLockFile<T>(
  lock: string,
  step: () => Promise<T>,
  opts: { staleMs?: number; waitMs?: number } = {},
): Promise<T> {
  const staleMs = opts.staleMs ?? 30_000;
  const deadline = Date.now() + (opts.waitMs ?? 60_000);
  await ensurePrivateDir(dirname(lock));
  for (;;) {
    try {
      const handle = await open(lock, 'wx', 0o600);
      try {
        await handle.writeFile(String(process.pid));
      } finally {
        await handle.close();
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (await isStale(lock, staleMs)) {
        await rm(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(`${lock} is held by another process (delete it if none is running)`);
      }
      await new Promise((r) => setTimeout(r, 10 + Math.random() * 20));
    }
  }
  try {
    return await step();
  } finally {
    await rm(lock, { force: true });
  }
}

async function isStale(lock: string, staleMs: number): Promise<boolean> {
  try {
    const [text, info] = await Promise.all([readFile(lock, 'utf8'), stat(lock)]);
    if (Date.now() - info.mtimeMs > staleMs) return true;
    const pid = Number(text);
    if (!Number.isInteger(pid) || pid <= 0) return Date.now() - info.mtimeMs > 1000;
    try {
      process.kill(pid, 0);
      return false;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ESRCH';
    }
  } catch {
    return false; // gone already (or being written): try again
  }
}
