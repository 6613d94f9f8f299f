/**
 * Attachments through the SDK and a real api (issue 17): upload and download throughput
 * of one 25 MiB file (encryption, parts, GridFS on FerretDB, digest, decryption and every
 * check included), then ten 25 MiB files uploaded at once and downloaded at once while the
 * api's resident memory is sampled every 50 ms: the api streams, so its peak should stay
 * far below the 250 MiB it moves.
 */
import { randomBytes } from 'node:crypto';
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

async function user(apiUrl: string, prefix: string): Promise<GossipClient> {
  const gossip = new GossipClient({
    api: new ApiClient({ baseUrl: apiUrl, timeoutMs: 120_000 }),
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

      ctx.say(`  one ${size / MiB} MiB upload`);
      let t0 = performance.now();
      const one = await uploadFile(a.api, file, [b.username], { name: 'bench.bin' });
      const uploadS = (performance.now() - t0) / 1000;
      t0 = performance.now();
      const back = await download(b.api, ref(one));
      const downloadS = (performance.now() - t0) / 1000;
      if (!Buffer.from(back).equals(file)) throw new Error('the downloaded file differs');

      ctx.say(`  ${parallel} uploads at once`);
      t0 = performance.now();
      const [ups, peakUp] = await peakRss(pid, () =>
        Promise.all(
          Array.from({ length: parallel }, () =>
            uploadFile(a.api, file, [b.username], { name: 'bench.bin' }),
          ),
        ),
      );
      const parallelUpS = (performance.now() - t0) / 1000;
      ctx.say(`  ${parallel} downloads at once`);
      t0 = performance.now();
      const [downs, peakDown] = await peakRss(pid, () =>
        Promise.all(ups.map((u) => download(b.api, ref(u)))),
      );
      const parallelDownS = (performance.now() - t0) / 1000;
      if (!downs.every((d) => d.length === size)) throw new Error('a parallel download differs');

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
