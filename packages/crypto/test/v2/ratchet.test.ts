import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { fromUtf8 } from '../../src/bytes.js';
import { CryptoError } from '../../src/errors.js';
import { encodeMessageBodyV2, parseMessageBodyV2 } from '../../src/v2/body.js';
import { type RatchetState } from '../../src/v2/ratchet.js';
import {
  decryptV2,
  encryptV2,
  parseRatchetState,
  serializeRatchetState,
} from '../../src/v2/session.js';
import { connect, ctx, ids, makeParty, sendMany, type V2Party } from './helpers.js';

const isCode = (code: string) => (e: unknown) => e instanceof CryptoError && e.code === code;

let a: V2Party;
let b: V2Party;
before(async () => {
  [a, b] = await Promise.all([makeParty('alice', 20), makeParty('bob', 20)]);
});

test('a conversation both ways; x is sent until the first reply, and the states never change in place', async () => {
  let { alice, bob } = await connect(a, b);
  const m1 = await encryptV2(alice, 'again before any reply', ctx(a, b, 'm1'));
  assert.ok(parseMessageBodyV2(m1.body).init, 'x until the first reply');
  const bobBefore = serializeRatchetState(bob);
  const d1 = await decryptV2(bob, m1.body, ctx(a, b, 'm1'));
  assert.equal(serializeRatchetState(bob), bobBefore, 'decrypt returns a new state');
  bob = d1.state;
  alice = m1.state;
  const r1 = await encryptV2(bob, 'reply', ctx(b, a, 'r1'));
  bob = r1.state;
  alice = (await decryptV2(alice, r1.body, ctx(b, a, 'r1'))).state;
  const m2 = await encryptV2(alice, 'after the reply', ctx(a, b, 'm2'));
  assert.equal(parseMessageBodyV2(m2.body).init, undefined, 'no x once a reply came');
  const d2 = await decryptV2(bob, m2.body, ctx(a, b, 'm2'));
  assert.equal(fromUtf8(d2.plaintext), 'after the reply');
});

test('a duplicate is replayed, after a ratchet step too, and a used skipped key is gone', async () => {
  const s = await connect(a, b);
  let { alice, bob } = s;
  const firstBody = s.firstBody;
  await assert.rejects(decryptV2(bob, firstBody, ctx(a, b, 'm0')), isCode('replayed'));
  const sent: string[] = [];
  for (let i = 1; i <= 3; i++) {
    const e = await encryptV2(alice, `m${i}`, ctx(a, b, `m${i}`));
    alice = e.state;
    sent.push(e.body);
  }
  // m3 first: m1 and m2 are skipped (kept), then each decrypts once.
  const d3 = await decryptV2(bob, sent[2] as string, ctx(a, b, 'm3'));
  assert.equal(d3.skipped, 2);
  bob = d3.state;
  assert.equal(bob.skipped.length, 2);
  bob = (await decryptV2(bob, sent[0] as string, ctx(a, b, 'm1'))).state;
  assert.equal(bob.skipped.length, 1, 'the used key is deleted');
  await assert.rejects(decryptV2(bob, sent[0] as string, ctx(a, b, 'm1')), isCode('replayed'));
  await assert.rejects(decryptV2(bob, sent[2] as string, ctx(a, b, 'm3')), isCode('replayed'));
  // A step both ways, then a message of the ended chain comes again.
  const r = await encryptV2(bob, 'r', ctx(b, a, 'r'));
  bob = r.state;
  alice = (await decryptV2(alice, r.body, ctx(b, a, 'r'))).state;
  const n = await encryptV2(alice, 'n', ctx(a, b, 'n'));
  bob = (await decryptV2(bob, n.body, ctx(a, b, 'n'))).state;
  await assert.rejects(decryptV2(bob, sent[2] as string, ctx(a, b, 'm3')), isCode('replayed'));
  // The kept key of m2 survives the step.
  const d2 = await decryptV2(bob, sent[1] as string, ctx(a, b, 'm2'));
  assert.equal(fromUtf8(d2.plaintext), 'm2');
});

test('a jump beyond the skip bound is gap_too_large; at the bound it decrypts', async () => {
  const s = await connect(a, b);
  let bob = s.bob;
  const bodies = (await sendMany(s.alice, a, b, ids('m', 12))).sent.map((m) => m.body);
  // Bob has m0 (nr 1); m12 is n 12: 11 to skip.
  await assert.rejects(
    decryptV2(bob, bodies[11] as string, ctx(a, b, 'm12'), { maxSkip: 10 }),
    (e) => isCode('gap_too_large')(e) && /11 messages/.test((e as Error).message),
  );
  const ok = await decryptV2(bob, bodies[11] as string, ctx(a, b, 'm12'), { maxSkip: 11 });
  assert.equal(ok.skipped, 11);
  bob = ok.state;
  assert.equal(
    fromUtf8((await decryptV2(bob, bodies[4] as string, ctx(a, b, 'm5'))).plaintext),
    'm5',
  );
});

test('the default bound: 1000 skipped keys decrypt, 1001 is gap_too_large', async () => {
  const s = await connect(a, b);
  let bob = s.bob;
  const bodies = (await sendMany(s.alice, a, b, ids('m', 1002))).sent.map((m) => m.body);
  await assert.rejects(
    decryptV2(bob, bodies[1001] as string, ctx(a, b, 'm1002')),
    isCode('gap_too_large'),
  );
  const d = await decryptV2(bob, bodies[1000] as string, ctx(a, b, 'm1001'));
  assert.equal(d.skipped, 1000);
  bob = d.state;
  assert.equal(bob.skipped.length, 1000);
});

test('a kept key older than the maximum age is dropped: the late message is refused', async () => {
  let { alice, bob } = await connect(a, b);
  const e1 = await encryptV2(alice, 'late', ctx(a, b, 'm1'));
  const e2 = await encryptV2(e1.state, 'on time', ctx(a, b, 'm2'));
  alice = e2.state;
  bob = (await decryptV2(bob, e2.body, ctx(a, b, 'm2'), { now: 1_000 })).state;
  assert.equal(bob.skipped.length, 1);
  await assert.rejects(
    decryptV2(bob, e1.body, ctx(a, b, 'm1'), { now: 1_000 + 61_000, maxAge: 60_000 }),
    isCode('replayed'),
  );
  const inTime = await decryptV2(bob, e1.body, ctx(a, b, 'm1'), {
    now: 1_000 + 59_000,
    maxAge: 60_000,
  });
  assert.equal(fromUtf8(inTime.plaintext), 'late');
});

test('tampering, another context or other devices fail and leave the state as it was', async () => {
  const { alice, bob } = await connect(a, b);
  const e = await encryptV2(alice, 'bound', ctx(a, b, 'm1'));
  const before = serializeRatchetState(bob);
  const parsed = parseMessageBodyV2(e.body);
  const flip = (bytes: Uint8Array, i: number) => {
    const c = new Uint8Array(bytes);
    c[i] = (c[i] as number) ^ 1;
    return c;
  };
  const tampered = [
    encodeMessageBodyV2({ ...parsed, ciphertext: flip(parsed.ciphertext, 0) }),
    encodeMessageBodyV2({ ...parsed, header: flip(parsed.header, 39) }),
    encodeMessageBodyV2({ ...parsed, header: flip(parsed.header, 35) }),
  ];
  for (const body of tampered) {
    await assert.rejects(
      decryptV2(bob, body, ctx(a, b, 'm1')),
      (err) => err instanceof CryptoError,
    );
  }
  await assert.rejects(decryptV2(bob, e.body, ctx(a, b, 'other-id')), isCode('decrypt_failed'));
  await assert.rejects(
    decryptV2(bob, e.body, { ...ctx(a, b, 'm1'), from: 'mallory' }),
    isCode('decrypt_failed'),
  );
  await assert.rejects(
    decryptV2(bob, e.body, { ...ctx(a, b, 'm1'), fromDevice: 'laptop' }),
    isCode('context_mismatch'),
  );
  // A header with a new ratchet key (forged) does not move the session.
  const forged = encodeMessageBodyV2({ ...parsed, header: flip(parsed.header, 3) });
  await assert.rejects(
    decryptV2(bob, forged, ctx(a, b, 'm1')),
    (err) => err instanceof CryptoError,
  );
  assert.equal(serializeRatchetState(bob), before);
  assert.equal(fromUtf8((await decryptV2(bob, e.body, ctx(a, b, 'm1'))).plaintext), 'bound');
});

test('the responder cannot send before it has a session; states round-trip through JSON strictly', async () => {
  const { alice, bob } = await connect(a, b);
  for (const s of [alice, bob]) {
    assert.deepEqual(parseRatchetState(serializeRatchetState(s)), s);
  }
  const blank: RatchetState = { ...bob, cks: null };
  await assert.rejects(encryptV2(blank, 'x', ctx(b, a, 'r')), isCode('bad_format'));
  const json = JSON.parse(serializeRatchetState(alice)) as Record<string, unknown>;
  for (const bad of [
    'not json',
    '[]',
    JSON.stringify({ ...json, v: 1 }),
    JSON.stringify({ ...json, rk: 'AAAA' }),
    JSON.stringify({ ...json, ns: -1 }),
    JSON.stringify({ ...json, skipped: [{ dh: 1 }] }),
    JSON.stringify({ ...json, init: { ik: 'x' } }),
    JSON.stringify({ ...json, dhs: null }),
  ]) {
    assert.throws(() => parseRatchetState(bad), isCode('bad_format'), bad.slice(0, 40));
  }
});
