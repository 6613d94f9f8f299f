/**
 * Property: any interleaving of sends both ways, with loss, duplication and reordering
 * within the skip bound, decrypts every delivered message exactly once (duplicates are
 * replayed); a jump beyond the bound is gap_too_large. Seeded, so a failure repeats.
 * Each state goes through serialize/parse between steps, as the SDK will store it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromUtf8 } from '../../src/bytes.js';
import { CryptoError } from '../../src/errors.js';
import { type RatchetState } from '../../src/v2/ratchet.js';
import {
  decryptV2,
  encryptV2,
  parseRatchetState,
  serializeRatchetState,
} from '../../src/v2/session.js';
import { aliceAndBob, connect, ctx, prng } from './helpers.js';

const p = aliceAndBob(40);

interface InFlight {
  id: string;
  body: string;
  text: string;
}

test('random interleavings with loss, duplication and reordering: each delivered message once', async () => {
  const RUNS = 25;
  const STEPS = 80;
  let delivered = 0;
  let duplicates = 0;
  let lost = 0;
  let skippedSeen = 0;
  for (let run = 0; run < RUNS; run++) {
    const rnd = prng(1000 + run);
    const s = await connect(p.a, p.b);
    const states: Record<'alice' | 'bob', string> = {
      alice: serializeRatchetState(s.alice),
      bob: serializeRatchetState(s.bob),
    };
    const parties = { alice: p.a, bob: p.b };
    const flight: Record<'alice' | 'bob', InFlight[]> = { alice: [], bob: [] }; // by recipient
    const got: Record<'alice' | 'bob', Set<string>> = { alice: new Set(), bob: new Set(['m0']) };
    let counter = 0;
    for (let step = 0; step < STEPS; step++) {
      const r = rnd();
      const from = rnd() < 0.5 ? 'alice' : 'bob';
      const to = from === 'alice' ? 'bob' : 'alice';
      if (r < 0.45) {
        const id = `${run}-${counter++}`;
        const text = `${from}:${id}`;
        const e = await encryptV2(
          parseRatchetState(states[from]),
          text,
          ctx(parties[from], parties[to], id),
        );
        states[from] = serializeRatchetState(e.state);
        flight[to].push({ id, body: e.body, text });
      } else if (flight[to].length > 0) {
        const i = Math.floor(rnd() * flight[to].length);
        const m = flight[to][i] as InFlight;
        const action = rnd();
        if (action < 0.1) {
          flight[to].splice(i, 1); // lost
          if (!got[to].has(m.id)) lost += 1;
          continue;
        }
        // Otherwise delivered; 20% stay in flight too, so they come again later (duplicates).
        if (action < 0.8) flight[to].splice(i, 1);
        const st = parseRatchetState(states[to]);
        try {
          const d = await decryptV2(st, m.body, ctx(parties[from], parties[to], m.id));
          assert.equal(got[to].has(m.id), false, `${m.id} decrypted twice`);
          assert.equal(fromUtf8(d.plaintext), m.text);
          got[to].add(m.id);
          skippedSeen += d.skipped;
          states[to] = serializeRatchetState(d.state);
          delivered += 1;
        } catch (err) {
          assert.ok(err instanceof CryptoError, String(err));
          assert.equal(err.code, 'replayed', `${m.id}: ${err.message}`);
          assert.equal(got[to].has(m.id), true, `${m.id} refused as replayed before it was read`);
          assert.equal(serializeRatchetState(st), states[to], 'a refused message changes nothing');
          duplicates += 1;
        }
      }
    }
    // Everything still in flight arrives at the end, in random order: each once.
    for (const to of ['alice', 'bob'] as const) {
      const from = to === 'alice' ? 'bob' : 'alice';
      const rest = flight[to].sort(() => rnd() - 0.5);
      for (const m of rest) {
        try {
          const d = await decryptV2(
            parseRatchetState(states[to]),
            m.body,
            ctx(parties[from], parties[to], m.id),
          );
          assert.equal(got[to].has(m.id), false);
          got[to].add(m.id);
          states[to] = serializeRatchetState(d.state);
          delivered += 1;
        } catch (err) {
          assert.ok(err instanceof CryptoError && err.code === 'replayed', String(err));
          assert.equal(got[to].has(m.id), true);
          duplicates += 1;
        }
      }
    }
  }
  // The runs did what they claim: deliveries, duplicates, losses and skips all happened.
  assert.ok(delivered > RUNS * 20, `delivered ${delivered}`);
  assert.ok(duplicates > 10, `duplicates ${duplicates}`);
  assert.ok(lost > 10, `lost ${lost}`);
  assert.ok(skippedSeen > 10, `skipped ${skippedSeen}`);
});

test('beyond the bound: a long run of lost messages gives gap_too_large, and the session still reads within it', async () => {
  const rnd = prng(7);
  for (let run = 0; run < 5; run++) {
    const s = await connect(p.a, p.b);
    let alice: RatchetState = s.alice;
    const bob: RatchetState = s.bob;
    const maxSkip = 5 + Math.floor(rnd() * 20);
    const bodies: string[] = [];
    for (let i = 1; i <= maxSkip + 2; i++) {
      const e = await encryptV2(alice, `m${i}`, ctx(p.a, p.b, `m${i}`));
      alice = e.state;
      bodies.push(e.body);
    }
    const last = maxSkip + 2;
    await assert.rejects(
      decryptV2(bob, bodies[last - 1] as string, ctx(p.a, p.b, `m${last}`), { maxSkip }),
      (e) => e instanceof CryptoError && e.code === 'gap_too_large',
    );
    const ok = await decryptV2(bob, bodies[last - 2] as string, ctx(p.a, p.b, `m${last - 1}`), {
      maxSkip,
    });
    assert.equal(ok.skipped, maxSkip);
  }
});
