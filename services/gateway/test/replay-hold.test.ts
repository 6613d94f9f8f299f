/** The replay hold's merge: order, dedupe against the replay, the bound (pure logic). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DeliverFrame } from '@gossip/protocol';
import { ReplayHold, type HeldFrame, type PushFrame } from '../src/replay-hold.js';

const deliver = (id: string, sentAt: number): DeliverFrame => ({
  type: 'deliver',
  id,
  from: 'alice',
  sentAt,
  kind: 'message',
  body: 'eA==',
});
const live = (frame: PushFrame): HeldFrame => ({ frame, live: true, droppable: true });
const ids = (held: HeldFrame[]): string[] =>
  held.map((h) => (h.frame.type === 'signal' ? `signal@${h.frame.signal}` : h.frame.id));

describe('ReplayHold', () => {
  it('releases what it held in (sentAt, id) order, whatever order it came in', () => {
    const hold = new ReplayHold(100);
    for (const f of [deliver('c', 20), deliver('b', 10), deliver('a', 20), deliver('d', 5)]) {
      assert.equal(hold.add(live(f)), true);
    }
    assert.deepEqual(ids(hold.release()), ['d', 'b', 'a', 'c']);
    assert.equal(hold.size, 0);
  });

  it('drops live copies of frames the replay sent, whichever came first', () => {
    const hold = new ReplayHold(100);
    hold.add(live(deliver('first-live', 1)));
    hold.sentByReplay(deliver('first-live', 1));
    hold.sentByReplay(deliver('first-replayed', 2));
    hold.add(live(deliver('first-replayed', 2)));
    hold.add(live(deliver('only-live', 3)));
    hold.add(live(deliver('only-live', 3)));
    assert.deepEqual(ids(hold.release()), ['only-live']);
  });

  it('orders receipts and contact events by `at` and signals by arrival, among the messages', () => {
    let now = 15;
    const hold = new ReplayHold(100, () => now);
    hold.add(live(deliver('m20', 20)));
    hold.add(live({ type: 'delivered', id: 'r10', to: 'bob', at: 10 }));
    hold.add(live({ type: 'signal', from: 'alice', signal: 'typing' }));
    now = 30;
    hold.add(live({ type: 'contact', id: 'c25', event: 'request', from: 'carol', at: 25 }));
    hold.add(live({ type: 'signal', from: 'alice', signal: 'typing-stopped' }));
    assert.deepEqual(ids(hold.release()), [
      'r10',
      'signal@typing',
      'm20',
      'c25',
      'signal@typing-stopped',
    ]);
  });

  it('refuses a frame past its bound, holding nothing more', () => {
    const hold = new ReplayHold(2);
    assert.equal(hold.add(live(deliver('a', 1))), true);
    assert.equal(hold.add(live(deliver('b', 2))), true);
    assert.equal(hold.add(live(deliver('c', 3))), false);
    assert.equal(hold.size, 2);
    assert.deepEqual(ids(hold.release()), ['a', 'b']);
  });

  it('keeps each frame’s flags', () => {
    const hold = new ReplayHold(10);
    const f = { frame: deliver('a', 1), live: false, droppable: false };
    hold.add(f);
    assert.deepEqual(hold.release(), [f]);
  });
});
