/**
 * A minimal Chrome DevTools Protocol client for a service started with
 * `NODE_OPTIONS=--inspect=127.0.0.1:PORT`: forces a full garbage collection and reads
 * `process.memoryUsage()` inside it, so a memory figure is what the process retains rather
 * than garbage a major GC has not reached yet.
 */
import WebSocket from 'ws';

export interface MemoryUsage {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

async function session<T>(
  port: number,
  use: (call: (method: string, params?: object) => Promise<unknown>) => Promise<T>,
): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${port}/json/list`);
  const [target] = (await res.json()) as { webSocketDebuggerUrl: string }[];
  if (!target) throw new Error(`no inspector target on port ${port}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let seq = 0;
  const waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  ws.on('message', (data) => {
    const m = JSON.parse(String(data)) as {
      id?: number;
      result?: unknown;
      error?: { message: string };
    };
    const w = m.id === undefined ? undefined : waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id!);
    if (m.error) w.reject(new Error(m.error.message));
    else w.resolve(m.result);
  });
  const call = (method: string, params: object = {}): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = ++seq;
      waiting.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params }));
    });
  try {
    return await use(call);
  } finally {
    ws.close();
  }
}

/** Runs a full (mark-compact) garbage collection in the inspected process. */
export function collectGarbage(port: number): Promise<void> {
  return session(port, async (call) => {
    await call('HeapProfiler.collectGarbage');
  });
}

/** `process.memoryUsage()` of the inspected process. */
export function memoryUsage(port: number): Promise<MemoryUsage> {
  return session(port, async (call) => {
    const r = (await call('Runtime.evaluate', {
      expression: 'JSON.stringify(process.memoryUsage())',
      returnByValue: true,
    })) as { result: { value: string } };
    return JSON.parse(r.result.value) as MemoryUsage;
  });
}
