/**
 * Attachments through the SDK and a real api (issue 17): upload and download throughput
 * of one 25 MiB file (encryption, parts, GridFS on FerretDB, digest, decryption and every
 * check included), then ten 25 MiB files uploaded at once and downloaded at once while the
 * api's resident memory is sampled every 50 ms: the api streams, so its peak should stay
 * far below the 250 MiB it moves.
 *
 * The HTTP calls go through node:http rather than fetch: on FerretDB a finish (the api
 * reads the upload back for its digest) and a part read slow down with every file stored,
 * and ten at once ran past fetch's fixed 300 s wait for the answer's headers. The SDK's
 * own per-request timeouts still apply.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { loadavg } from 'node:os';
import { Readable } from 'node:stream';
import {
  ApiClient,
  download,
  GossipClient,
  MemoryKeyStore,
  uploadFile,
  type AttachmentRef,
} from '@gossip/client';
import { DEFAULT_ATTACHMENT_MAX_BYTES } from '@gossip/protocol';
import { ServiceStack } from '@gossip/testenv';
import { rssBytes } from '../procstat.js';
import { round, table } from '../report.js';
import type { Scenario } from '../scenario.js';

const MiB = 1024 * 1024;
/**
 * A transfer the SDK would give up after 60 s without progress keeps trying here: ten at
 * once on a loaded box can stall that long (a first run lost one of its ten uploads so).
 */
const PATIENT = { resumeWithinMs: 30 * 60_000 };

/** `fetch` over node:http, with no wait limit of its own (the caller's signal bounds it). */
function patientFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(
      String(input),
      {
        method: init.method ?? 'GET',
        headers: init.headers as Record<string, string>,
        ...(init.signal ? { signal: init.signal } : {}),
      },
      (res) => {
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
        }
        const status = res.statusCode ?? 0;
        const empty = status === 204 || status === 304 || init.method === 'HEAD';
        if (empty) res.resume();
        const body = empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
        resolve(new Response(body, { status, headers }));
      },
    );
    req.on('error', reject);
    req.end(init.body as string | Uint8Array | undefined);
  });
}

async function user(apiUrl: string, prefix: string): Promise<GossipClient> {
  const gossip = new GossipClient({
    api: new ApiClient({ baseUrl: apiUrl, timeoutMs: 120_000, fetch: patientFetch }),
    keyStore: new MemoryKeyStore(),
  });
  await gossip.register({
    username: `${prefix}_${randomBytes(4).toString('hex')}`,
    password: `pw-${randomBytes(8).toString('hex')}`,
  });
  return gossip;
}

/** Peak RSS of `pid` while `work` runs, sampled every 50 ms. */
async function peakRss<T>(pid: number, work: () => Promise<T>): Promise<[T, number]> {
  let peak = rssBytes(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssBytes(pid));
    } catch {
      // the process is gone: the work fails and says so
    }
  }, 50);
  try {
    return [await work(), Math.max(peak, rssBytes(pid))];
  } finally {
    clearInterval(timer);
  }
}

export const attachments: Scenario = {
  name: 'attachments',
  title: 'Attachments: 25 MiB upload and download through the SDK, api memory with ten at once',
  async run(ctx) {
    const size = ctx.quick ? 4 * MiB : DEFAULT_ATTACHMENT_MAX_BYTES;
    const parallel = ctx.quick ? 3 : 10;
    const stack = new ServiceStack('bench-attachments', ctx.servers);
    try {
      // The default quota (250 MiB of ciphertext) is just under ten 25 MiB files.
      const api = await stack.startApi({ API_ATTACHMENT_QUOTA_BYTES: String(2048 * MiB) });
      const pid = api.proc.pid;
      const [a, b] = [await user(api.url, 'alice'), await user(api.url, 'bob')];
      await a.api.requestContact(b.username);
      await b.acceptContact(a.username);
      const file = randomBytes(size);
      const ref = (up: Awaited<ReturnType<typeof uploadFile>>): AttachmentRef => ({
        ...up,
        name: 'bench.bin',
        type: 'application/octet-stream',
      });
      const idle = rssBytes(pid);

      /** Runs one phase, says how long it took and the load average after it. */
      const loads: Record<string, number[]> = {};
      async function phase<T>(label: string, work: () => Promise<T>): Promise<[T, number]> {
        ctx.say(`  ${label}…`);
        const t0 = performance.now();
        const out = await work();
        const s = (performance.now() - t0) / 1000;
        loads[label] = loadavg().map(round);
        ctx.say(`  ${label}: ${round(s)} s (load average ${loads[label].join(' / ')})`);
        return [out, s];
      }
      const upload = (): ReturnType<typeof uploadFile> =>
        uploadFile(a.api, file, [b.username], { name: 'bench.bin', ...PATIENT });

      const [one, uploadS] = await phase(`one ${size / MiB} MiB upload`, upload);
      const [back, downloadS] = await phase(`one ${size / MiB} MiB download`, () =>
        download(b.api, ref(one), PATIENT),
      );
      if (!Buffer.from(back).equals(file)) throw new Error('the downloaded file differs');

      const [[ups, peakUp], parallelUpS] = await phase(`${parallel} uploads at once`, () =>
        peakRss(pid, () => Promise.all(Array.from({ length: parallel }, upload))),
      );
      const [[downs, peakDown], parallelDownS] = await phase(`${parallel} downloads at once`, () =>
        peakRss(pid, () => Promise.all(ups.map((u) => download(b.api, ref(u), PATIENT)))),
      );
      if (!downs.every((d) => Buffer.from(d).equals(file))) {
        throw new Error('a parallel download differs');
      }

      const mibs = (bytes: number, s: number): number => round(bytes / MiB / s);
      const data = {
        fileMiB: size / MiB,
        single: { uploadMiBs: mibs(size, uploadS), downloadMiBs: mibs(size, downloadS) },
        parallel: {
          files: parallel,
          uploadMiBs: mibs(size * parallel, parallelUpS),
          downloadMiBs: mibs(size * parallel, parallelDownS),
          apiIdleRssMiB: round(idle / MiB),
          apiPeakRssUploadMiB: round(peakUp / MiB),
          apiPeakRssDownloadMiB: round(peakDown / MiB),
        },
        seconds: {
          upload: round(uploadS),
          download: round(downloadS),
          parallelUpload: round(parallelUpS),
          parallelDownload: round(parallelDownS),
        },
        loadAverageAfter: loads,
      };
      const markdown = [
        table(
          ['case', 'MiB/s (plaintext, all checks)', 'api peak RSS MiB (idle before)'],
          [
            [`one ${data.fileMiB} MiB upload`, data.single.uploadMiBs, ''],
            [`one ${data.fileMiB} MiB download`, data.single.downloadMiBs, ''],
            [
              `${parallel} uploads at once`,
              data.parallel.uploadMiBs,
              `${data.parallel.apiPeakRssUploadMiB} (${data.parallel.apiIdleRssMiB})`,
            ],
            [
              `${parallel} downloads at once`,
              data.parallel.downloadMiBs,
              `${data.parallel.apiPeakRssDownloadMiB} (${data.parallel.apiIdleRssMiB})`,
            ],
          ],
        ),
        '',
        'The client encrypts and decrypts in the same process as the bench (one core), and the ' +
          'api writes through FerretDB (SQLite) on the same machine: the figures are for the ' +
          'whole path on one shared box, not for the api alone.',
      ].join('\n');
      return { data, markdown };
    } finally {
      await stack.close();
    }
  },
};
