/**
 * Messages and the attachments they carry: a send may name an attachment only if it is a
 * finished upload of the sender that names the recipient, and a recipient's ack of such a
 * message records that it fetched the attachment; once every named recipient has, the
 * ciphertext and its document are deleted.
 */
import type { AttachmentBlobs, SharedCollections } from '@gossip/store';
import type { EngineMetrics } from './metrics.js';

export class AttachmentLinks {
  constructor(
    private readonly c: Pick<SharedCollections, 'attachments'>,
    private readonly blobs: AttachmentBlobs,
    private readonly metrics: EngineMetrics,
  ) {}

  /** Whether every id is a finished upload of `from` naming `to` as a recipient. */
  async check(from: string, to: string, ids: readonly string[]): Promise<boolean> {
    const docs = await Promise.all(
      // By `_id` alone (FerretDB scans for anything more); the rest is checked here.
      ids.map((id) =>
        this.c.attachments.findOne(
          { _id: id },
          { projection: { owner: 1, finished: 1, recipients: 1 } },
        ),
      ),
    );
    return docs.every((d) => d?.finished === true && d.owner === from && d.recipients.includes(to));
  }

  /** `user` acked a message carrying `ids`: records it, and deletes what all recipients have. */
  async acked(user: string, ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      const doc = await this.c.attachments.findOneAndUpdate(
        { _id: id },
        { $addToSet: { ackedBy: user } },
        // No projection: FerretDB 1.x does not implement one on findAndModify.
        { returnDocument: 'after' },
      );
      if (!doc) continue; // withdrawn, expired, or deleted by another recipient's ack
      if (doc.recipients.every((r) => doc.ackedBy.includes(r))) {
        // Only the call that deleted the document counts it (two acks at once both get here).
        if (await this.blobs.deleteAttachment(this.c.attachments, doc)) {
          this.metrics.attachmentsDeleted.inc();
        }
      }
    }
  }
}
