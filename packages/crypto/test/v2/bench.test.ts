import assert from 'node:assert/strict';
import { test } from 'node:test';
import { benchV2 } from '../../src/v2/bench.js';

test('benchV2 runs its sessions and messages and reports a figure for each (no time asserted)', async () => {
  const r = await benchV2({ messages: 5, sessions: 2, bytes: 10 });
  assert.deepEqual([r.messages, r.sessions, r.bytes], [5, 2, 10]);
  for (const v of [r.setupMs, r.encryptMs, r.decryptMs]) assert.ok(Number.isFinite(v) && v >= 0);
});
