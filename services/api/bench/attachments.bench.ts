/**
 * The api's memory while it streams attachments: ten 25 MiB (ciphertext of the default
 * limit) uploads at once in 1 MiB parts, then ten downloads at once, against a real api
 * process on the test environment's FerretDB and Redis. Prints the api's peak resident
 * memory (VmHWM from /proc) after start-up and after each phase, and the throughput.
 * Reports numbers; passes or fails nothing (the machine may be shared: say so next to
 * any figure). Before the store read parts by chunk `_id` (see
 * packages/store/src/attachments.ts) the ten finishes did not complete within fetch's
 * 300 s wait for an answer on FerretDB's SQLite backend, which scanned the whole chunks
 * collection for each part read. After it, on the test env's servers at a load average
 * of 11.6 on 2 shared cores: VmHWM 185.5 MiB after start (tsx), 258.9 MiB after the ten
 * uploads (60.6 s, 4.13 MiB/s in all) and the same after the ten downloads (22.9 s,
 * 10.91 MiB/s).
 *
 *   node --import tsx services/api/bench/attachments.bench.ts
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { exportPublicKeys, generateIdentityKeys } from '@gossip/crypto';
import {
  API_PATHS,
  DEFAULT_ATTACHMENT_MAX_BYTES,
  attachmentCiphertextBytes,
  attachmentContentRange,
  attachmentPath,
  type AttachmentStatus,
  type Session,
} from '@gossip/protocol';
import { ServiceStack } from '@gossip/testenv';

const FILES = 10;
const PART_BYTES = 1 << 20;

async function peakMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1]);
  return kb / 1024;
}

async function main(): Promise<void> {
  const stack = new ServiceStack('attach-bench', undefined, { logGroup: 'api-bench' });
  try {
    const api = await stack.startApi({ API_ATTACHMENT_QUOTA_BYTES: String(1 << 30) });
    const call = (path: string, init: RequestInit = {}, token?: string) =>
      fetch(`${api.url}${path}`, {
        ...init,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...init.headers },
      });
    const keys = await exportPublicKeys(await generateIdentityKeys());
    const sessions: Session[] = [];
    for (const name of ['alice', 'bob']) {
      const res = await call(API_PATHS.register, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: name, password: 'a long bench password', keys }),
      });
      sessions.push((await res.json()) as Session);
    }
    const [alice, bob] = sessions as [Session, Session];
    await stack.makeContacts('alice', 'bob');
    console.log(`api peak RSS after start: ${(await peakMiB(api.proc.pid)).toFixed(1)} MiB`);

    const size = attachmentCiphertextBytes(DEFAULT_ATTACHMENT_MAX_BYTES);
    const bytes = randomBytes(size);
    const digest = createHash('sha256').update(bytes).digest('base64url');
    const upload = async (): Promise<string> => {
      const made = await call(
        API_PATHS.attachments,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ size }),
        },
        alice.accessToken,
      );
      const { id } = (await made.json()) as AttachmentStatus;
      for (let at = 0; at < size; at += PART_BYTES) {
        const part = Uint8Array.from(bytes.subarray(at, at + PART_BYTES));
        const res = await call(
          attachmentPath(API_PATHS.attachmentContent, id),
          {
            method: 'PUT',
            headers: {
              'content-type': 'application/octet-stream',
              'content-range': attachmentContentRange(at, at + part.length - 1, size),
            },
            body: part,
          },
          alice.accessToken,
        );
        if (res.status !== 200) throw new Error(`part at ${at}: ${res.status} ${await res.text()}`);
      }
      const fin = await call(
        attachmentPath(API_PATHS.attachmentFinish, id),
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ digest, recipients: ['bob'] }),
        },
        alice.accessToken,
      );
      if (fin.status !== 200) throw new Error(`finish: ${fin.status} ${await fin.text()}`);
      return id;
    };
    let t = performance.now();
    const ids = await Promise.all(Array.from({ length: FILES }, upload));
    let s = (performance.now() - t) / 1000;
    const mib = (FILES * size) / (1 << 20);
    console.log(
      `${FILES} uploads of ${(size / (1 << 20)).toFixed(2)} MiB at once: ${s.toFixed(1)} s, ` +
        `${(mib / s).toFixed(2)} MiB/s in all; api peak RSS ${(await peakMiB(api.proc.pid)).toFixed(1)} MiB`,
    );
    t = performance.now();
    await Promise.all(
      ids.map(async (id) => {
        const res = await call(
          attachmentPath(API_PATHS.attachmentContent, id),
          {},
          bob.accessToken,
        );
        let n = 0;
        for await (const chunk of res.body!) n += (chunk as Uint8Array).length;
        if (n !== size) throw new Error(`download got ${n} of ${size} bytes`);
      }),
    );
    s = (performance.now() - t) / 1000;
    console.log(
      `${FILES} downloads at once: ${s.toFixed(1)} s, ${(mib / s).toFixed(2)} MiB/s in all; ` +
        `api peak RSS ${(await peakMiB(api.proc.pid)).toFixed(1)} MiB`,
    );
  } finally {
    await stack.close();
  }
}

await main();
