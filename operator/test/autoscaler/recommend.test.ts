import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { recommend, type AutoscaleInput, type PodReading } from '../../src/autoscaler/recommend.js';

const policy = { minReplicas: 1, maxReplicas: 20, targetConnectionsPerPod: 100 };
const pods = (...counts: (number | undefined)[]): PodReading[] =>
  counts.map((connections, i) => ({ name: `gw-${i}`, connections }));
const input = (over: Partial<AutoscaleInput>): AutoscaleInput => ({
  nowMs: 1_000_000,
  currentReplicas: 2,
  pods: pods(100, 100),
  policy,
  history: [],
  events: [],
  ...over,
});

describe('recommend', () => {
  test('desired is ceil(total / target)', () => {
    const d = recommend(input({ pods: pods(250, 260) }));
    assert.equal(d.totalConnections, 510);
    assert.equal(d.desiredReplicas, 6);
    assert.equal(d.reason, 'ScaleUp');
  });

  test('a change inside the 10% tolerance does nothing', () => {
    const d = recommend(input({ pods: pods(105, 104) }));
    assert.equal(d.desiredReplicas, 2);
    assert.equal(d.reason, 'WithinTolerance');
    const below = recommend(input({ pods: pods(91, 91) }));
    assert.equal(below.desiredReplicas, 2);
  });

  test('just past the tolerance scales', () => {
    const d = recommend(input({ pods: pods(112, 112) }));
    assert.equal(d.desiredReplicas, 3);
  });

  test('clamped to maxReplicas and minReplicas', () => {
    const up = recommend(input({ currentReplicas: 19, pods: pods(...Array(19).fill(500)) }));
    assert.equal(up.desiredReplicas, 20);
    const down = recommend(
      input({ currentReplicas: 3, pods: pods(0, 0, 0), policy: { ...policy, minReplicas: 2 } }),
    );
    assert.equal(down.desiredReplicas, 2);
  });

  test('replicas outside [min, max] after a spec change are brought inside first', () => {
    assert.equal(
      recommend(input({ currentReplicas: 1, policy: { ...policy, minReplicas: 3 } })).reason,
      'BelowMin',
    );
    const d = recommend(
      input({
        currentReplicas: 8,
        pods: pods(...Array(8).fill(500)),
        policy: { ...policy, maxReplicas: 5 },
      }),
    );
    assert.equal(d.desiredReplicas, 5);
    assert.equal(d.reason, 'AboveMax');
  });

  test('scale-up is bounded to +100% or +4 pods per period, whichever is more', () => {
    // From 2: limit max(2+4, 2*2) = 6, though 50 are needed.
    const small = recommend(
      input({ pods: pods(2500, 2500), policy: { ...policy, maxReplicas: 100 } }),
    );
    assert.equal(small.recommendedReplicas, 50);
    assert.equal(small.desiredReplicas, 6);
    assert.equal(small.reason, 'ScaleUpLimited');
    // From 10: limit max(14, 20) = 20.
    const big = recommend(
      input({
        currentReplicas: 10,
        pods: pods(...Array(10).fill(500)),
        policy: { ...policy, maxReplicas: 100 },
      }),
    );
    assert.equal(big.desiredReplicas, 20);
  });

  test('the scale-up limit counts from the replicas at the start of the period', () => {
    const now = 1_000_000;
    // Scaled 2 -> 6 five seconds ago: still within the 15 s period, so the base is 2 and the cap 6.
    const scaledUpAt = (atMs: number) =>
      recommend(
        input({
          nowMs: now,
          currentReplicas: 6,
          pods: pods(...Array(6).fill(800)),
          events: [{ atMs, from: 2, to: 6 }],
          policy: { ...policy, maxReplicas: 100 },
        }),
      );
    assert.equal(scaledUpAt(now - 5000).desiredReplicas, 6);
    // Once the period passed, the next step may go from 6 to 12.
    assert.equal(scaledUpAt(now - 16000).desiredReplicas, 12);
  });

  test('scale-down waits for the stabilization window: highest recommendation wins', () => {
    const now = 1_000_000;
    const history = [
      { atMs: now - 200_000, replicas: 5 },
      { atMs: now - 100_000, replicas: 3 },
    ];
    const d = recommend(
      input({ nowMs: now, currentReplicas: 5, pods: pods(10, 10, 10, 10, 10), history }),
    );
    assert.equal(d.recommendedReplicas, 1);
    assert.equal(d.desiredReplicas, 5);
    assert.equal(d.reason, 'ScaleDownStabilized');
    // 301 s later the 5 has left the window; the 3 (now 201 s old) still holds.
    const later = recommend(
      input({
        nowMs: now + 101_000,
        currentReplicas: 5,
        pods: pods(10, 10, 10, 10, 10),
        history: d.history,
      }),
    );
    assert.equal(later.desiredReplicas, 3);
    assert.equal(later.reason, 'ScaleDown');
    // And once everything in the window asks for 1, it goes to 1.
    const end = recommend(
      input({
        nowMs: now + 400_000,
        currentReplicas: 3,
        pods: pods(10, 10, 10),
        history: later.history,
      }),
    );
    assert.equal(end.desiredReplicas, 1);
  });

  test('history older than the window is dropped, the new recommendation is kept', () => {
    const d = recommend(input({ history: [{ atMs: 0, replicas: 9 }] }));
    assert.deepEqual(d.history, [{ atMs: 1_000_000, replicas: 2 }]);
  });

  test('scale-up is immediate even with a higher history (no up-stabilization)', () => {
    const d = recommend(input({ pods: pods(300, 300), history: [{ atMs: 999_000, replicas: 2 }] }));
    assert.equal(d.desiredReplicas, 6);
  });

  test('with no readable pod nothing changes', () => {
    const d = recommend(input({ pods: pods(undefined, undefined) }));
    assert.equal(d.desiredReplicas, 2);
    assert.equal(d.reason, 'NoMetrics');
    assert.equal(d.unknownPods, 2);
  });

  test('unknown pods count as empty on scale-up (not zero connections overall)', () => {
    // Known pod at 400: alone it would ask 4; with the unknown pod counted empty, (400+0)/100 = 4 too,
    // but the ratio over all pods is 2 → scale-up to 4 stands.
    const d = recommend(input({ pods: pods(400, undefined) }));
    assert.equal(d.unknownPods, 1);
    assert.equal(d.desiredReplicas, 4);
  });

  test('unknown pods count as on-target on scale-down, so they block a drop', () => {
    // Known pods nearly idle would ask for 1, but 2 unknown pods count as 100 each → 3 needed of 4.
    const d = recommend(input({ currentReplicas: 4, pods: pods(5, 5, undefined, undefined) }));
    assert.equal(d.recommendedReplicas, 3);
    assert.equal(d.desiredReplicas, 3);
    // And when the unknowns push the ratio back into tolerance, nothing changes.
    const held = recommend(input({ currentReplicas: 2, pods: pods(70, undefined) }));
    assert.equal(held.desiredReplicas, 2);
  });

  test('an invalid policy is refused with a message that says what to change', () => {
    assert.throws(
      () => recommend(input({ policy: { ...policy, minReplicas: 5, maxReplicas: 2 } })),
      /minReplicas \(5\) must be <= maxReplicas \(2\)/,
    );
  });
});
