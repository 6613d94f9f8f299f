import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { fromBase64, fromUtf8, toBase64, utf8 } from '../../src/bytes.js';
import { CryptoError } from '../../src/errors.js';
import { encryptMessage, generateConversationKey } from '../../src/message.js';
import {
  encodeMessageBodyV2,
  messageBodyVersion,
  parseMessageBodyV2,
  parseX3dhInit,
} from '../../src/v2/body.js';
import { encryptV2 } from '../../src/v2/session.js';
import { connect, ctx, makeParty, prng, type V2Party } from './helpers.js';

const isBad = (e: unknown) => e instanceof CryptoError && e.code === 'bad_format';

let a: V2Party;
let b: V2Party;
let first: string;
let later: string;
before(async () => {
  [a, b] = await Promise.all([makeParty('alice', 2), makeParty('bob', 2)]);
  const s = await connect(a, b);
  first = s.firstBody;
  later = (await encryptV2(s.bob, 'reply', ctx(b, a, 'r'))).body;
});

const json = (body: string) => JSON.parse(fromUtf8(fromBase64(body))) as Record<string, unknown>;
const enc = (o: unknown) => toBase64(utf8(JSON.stringify(o)));

test('the body is base64 of JSON with v, sd, rd, h, ct and x in that order; it parses back', () => {
  const o = json(first);
  assert.deepEqual(Object.keys(o), ['v', 'sd', 'rd', 'h', 'ct', 'x']);
  assert.deepEqual(Object.keys(o.x as object), ['ik', 'iks', 'ek', 'spk', 'opk', 'rsa']);
  assert.deepEqual(Object.keys(json(later)), ['v', 'sd', 'rd', 'h', 'ct']);
  const p = parseMessageBodyV2(first);
  assert.equal(p.v, 2);
  assert.equal(p.header.length, 40);
  assert.equal(p.ciphertext.length, 'hello'.length + 16);
  assert.equal(encodeMessageBodyV2(p), first, 'encode(parse(body)) is the same body');
  assert.equal(messageBodyVersion(first), 2);
});

test('messageBodyVersion tells a v1 body from a v2 one', async () => {
  const k = await generateConversationKey();
  const v1 = await encryptMessage(k, 'x', { from: 'a', to: 'b', id: '1' });
  assert.equal(messageBodyVersion(v1), 1);
  assert.throws(() => parseMessageBodyV2(v1), isBad);
  assert.throws(() => messageBodyVersion(enc({ v: 3 })), isBad);
});

test('malformed bodies are bad_format, each one', () => {
  const o = json(first);
  const x = o.x as Record<string, unknown>;
  const b64 = (n: number) => toBase64(new Uint8Array(n));
  const cases: [string, string][] = [
    ['not base64', 'not base64!'],
    ['not a string', 42 as unknown as string],
    ['not JSON', toBase64(utf8('{'))],
    ['invalid UTF-8', toBase64(new Uint8Array([0x7b, 0xff, 0x7d]))],
    ['array', enc([])],
    ['null', enc(null)],
    ['v 1', enc({ ...o, v: 1 })],
    ['v "2"', enc({ ...o, v: '2' })],
    ['unknown field', enc({ ...o, extra: 1 })],
    ['sd missing', enc({ ...o, sd: undefined })],
    ['sd empty', enc({ ...o, sd: '' })],
    ['rd too long', enc({ ...o, rd: 'd'.repeat(65) })],
    ['h 39 bytes', enc({ ...o, h: b64(39) })],
    ['h 41 bytes', enc({ ...o, h: b64(41) })],
    ['h number', enc({ ...o, h: 5 })],
    [
      'h base64url',
      enc({ ...o, h: (o.h as string).replace(/\+/g, '-').replace(/\//g, '_') + '-' }),
    ],
    ['ct 15 bytes', enc({ ...o, ct: b64(15) })],
    ['x array', enc({ ...o, x: [] })],
    ['x unknown field', enc({ ...o, x: { ...x, y: 1 } })],
    ['x.ik 31 bytes', enc({ ...o, x: { ...x, ik: b64(31) } })],
    ['x.iks 63 bytes', enc({ ...o, x: { ...x, iks: b64(63) } })],
    ['x.ek missing', enc({ ...o, x: { ...x, ek: undefined } })],
    ['x.spk 0', enc({ ...o, x: { ...x, spk: 0 } })],
    ['x.spk string', enc({ ...o, x: { ...x, spk: '7' } })],
    ['x.opk 2^31', enc({ ...o, x: { ...x, opk: 2 ** 31 } })],
    ['x.opk null', enc({ ...o, x: { ...x, opk: null } })],
    ['x.rsa empty', enc({ ...o, x: { ...x, rsa: '' } })],
    ['x.rsa too long', enc({ ...o, x: { ...x, rsa: b64(1025) } })],
  ];
  for (const [name, body] of cases) {
    // Sanity: the case really differs from the good body.
    assert.notEqual(body, first, name);
    assert.throws(() => parseMessageBodyV2(body), isBad, name);
  }
  assert.throws(() => parseX3dhInit('x'), isBad);
});

test('fuzz: 3000 mutated bodies (bytes of the JSON and of the base64) never throw anything but CryptoError', () => {
  const rnd = prng(16);
  const raw = fromBase64(first);
  let refused = 0;
  for (let i = 0; i < 3000; i++) {
    let body: string;
    if (i % 2 === 0) {
      const m = new Uint8Array(raw);
      const flips = 1 + Math.floor(rnd() * 4);
      for (let f = 0; f < flips; f++) m[Math.floor(rnd() * m.length)] = Math.floor(rnd() * 256);
      body = toBase64(
        m.subarray(0, Math.floor(rnd() * 4) === 0 ? Math.floor(rnd() * m.length) : m.length),
      );
    } else {
      const chars = first.split('');
      chars[Math.floor(rnd() * chars.length)] = 'A+/=x!'[Math.floor(rnd() * 6)] as string;
      body = chars.join('');
    }
    try {
      parseMessageBodyV2(body);
    } catch (err) {
      assert.ok(err instanceof CryptoError, `${String(err)} for ${body.slice(0, 30)}`);
      assert.equal(err.code, 'bad_format');
      refused += 1;
    }
  }
  assert.ok(refused > 1000, `refused ${refused}`);
});
