/** Frames the engine builds from stored documents. */
import type { DeliverFrame } from '@gossip/protocol';
import type { MessageDoc } from '@gossip/store';

/** The `deliver` frame of a stored message. */
export function deliverFrame(d: MessageDoc): DeliverFrame {
  return {
    type: 'deliver',
    id: d._id,
    from: d.from,
    sentAt: d.sentAt.getTime(),
    kind: d.kind,
    body: d.body,
  };
}
