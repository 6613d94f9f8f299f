/**
 * The attachments' part of the periodic sweep: finished attachments past retention and
 * uploads never finished in time are deleted (counted by reason), GridFS leftovers of cut
 * or crashed uploads are removed, and the stored gauges are refreshed.
 */
import type { Logger } from '@gossip/servicekit';
import type { AttachmentBlobs, AttachmentDoc, SharedCollections } from '@gossip/store';
import type { AttachmentExpiryReason } from '@gossip/protocol';
import type { Filter } from 'mongodb';
import type { EngineMetrics } from './metrics.js';

/** How long attachments are kept (seconds): `ENGINE_ATTACHMENT_*`. */
export interface AttachmentRetention {
  attachmentRetentionSeconds: number;
  attachmentUploadTimeoutSeconds: number;
}

/**
 * GridFS files and chunks no attachment lists are removed once this old (at most; an
 * upload timeout shorter than this is used instead): longer than any part takes to
 * arrive, so a part in flight is never touched.
 */
const ORPHAN_GRACE_SECONDS = 600;

export async function sweepAttachments(
  c: Pick<SharedCollections, 'attachments'>,
  blobs: AttachmentBlobs,
  r: AttachmentRetention,
  metrics: EngineMetrics,
  log: Logger,
  now: number = Date.now(),
): Promise<void> {
  const before = (seconds: number): Date => new Date(now - seconds * 1000);
  const expire = async (
    reason: AttachmentExpiryReason,
    filter: Filter<AttachmentDoc>,
  ): Promise<void> => {
    let n = 0;
    const due = c.attachments.find(filter, { projection: { _id: 1, parts: 1 } });
    for await (const doc of due) {
      if (await blobs.deleteAttachment(c.attachments, doc)) n++;
    }
    if (n > 0) {
      metrics.attachmentsExpired.inc({ reason }, n);
      log.info({ expired: n, reason }, 'expired attachments');
    }
  };
  await expire('unfinished', {
    finished: false,
    createdAt: { $lt: before(r.attachmentUploadTimeoutSeconds) },
  });
  await expire('retention', {
    finished: true,
    finishedAt: { $lt: before(r.attachmentRetentionSeconds) },
  });
  const grace = Math.min(ORPHAN_GRACE_SECONDS, r.attachmentUploadTimeoutSeconds);
  const orphans = await blobs.removeOrphans(c.attachments, before(grace));
  if (orphans > 0) log.info({ orphans }, 'removed GridFS files of cut uploads');
  await refreshAttachmentStats(c, metrics);
}

/** Sets the stored-attachments gauges (count and ciphertext bytes, uploads included). */
export async function refreshAttachmentStats(
  c: Pick<SharedCollections, 'attachments'>,
  metrics: EngineMetrics,
): Promise<void> {
  let count = 0;
  let bytes = 0;
  for await (const d of c.attachments.find({}, { projection: { size: 1 } })) {
    count++;
    bytes += d.size;
  }
  metrics.attachmentsStored.set(count);
  metrics.attachmentsStoredBytes.set(bytes);
}
