import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  MAX_ACK_IDS,
  MAX_BODY_CHARS,
  MAX_FRAME_BYTES,
  errorFrame,
  newMessageId,
  parseClientFrame,
  parseServerFrame,
  type ClientFrame,
} from '../src/index.js';

const id = newMessageId();

function clientOk(frame: unknown): ClientFrame {
  const r = parseClientFrame(JSON.stringify(frame));
  assert.ok(r.ok, `expected ok, got ${JSON.stringify(!r.ok && r.error)}`);
  return r.frame;
}

function clientErr(raw: string | Uint8Array): { code: string; message: string; ref?: string } {
  const r = parseClientFrame(raw);
  assert.ok(!r.ok, 'expected a refusal');
  return r.error;
}

test('parseClientFrame accepts each valid client frame', () => {
  assert.equal(
    clientOk({ type: 'send', id, to: 'bob', kind: 'message', body: 'abc' }).type,
    'send',
  );
  assert.equal(clientOk({ type: 'send', id, to: 'bob_2', kind: 'key', body: 'k' }).type, 'send');
  assert.equal(clientOk({ type: 'ack', ids: [id, newMessageId()] }).type, 'ack');
  assert.equal(clientOk({ type: 'signal', to: 'bob', signal: 'typing' }).type, 'signal');
  assert.equal(
    clientOk({ type: 'signal', to: 'bob', signal: 'call-ring', body: 'x' }).type,
    'signal',
  );
  assert.equal(clientOk({ type: 'ping' }).type, 'ping');
  assert.equal(clientOk({ type: 'ping', ts: 1 }).type, 'ping');
});

test('parseClientFrame accepts bytes as ws hands them over', () => {
  const bytes = new TextEncoder().encode(JSON.stringify({ type: 'ping' }));
  const r = parseClientFrame(Buffer.from(bytes));
  assert.ok(r.ok);
  const r2 = parseClientFrame(bytes.buffer.slice(0) as ArrayBuffer);
  assert.ok(r2.ok);
});

test('parseClientFrame refuses malformed JSON with bad_json', () => {
  assert.equal(clientErr('{not json').code, 'bad_json');
  assert.equal(clientErr(new Uint8Array([0xff, 0xfe, 0x7b])).code, 'bad_json');
});

test('parseClientFrame refuses non-objects and missing type with bad_frame', () => {
  assert.equal(clientErr('[]').code, 'bad_frame');
  assert.equal(clientErr('null').code, 'bad_frame');
  assert.equal(clientErr('"send"').code, 'bad_frame');
  assert.equal(clientErr('{"id":"x"}').code, 'bad_frame');
});

test('parseClientFrame refuses unknown types, including server-only ones', () => {
  assert.equal(clientErr('{"type":"hack"}').code, 'unknown_type');
  assert.equal(clientErr('{"type":"deliver"}').code, 'unknown_type');
  assert.equal(clientErr('{"type":"__proto__"}').code, 'unknown_type');
  assert.equal(clientErr('{"type":"toString"}').code, 'unknown_type');
});

test('parseClientFrame refuses bad fields and reports the frame id as ref', () => {
  const base = { type: 'send', id, to: 'bob', kind: 'message', body: 'abc' };
  const cases: unknown[] = [
    { ...base, id: 'not-a-uuid' },
    { ...base, id: id.toUpperCase() },
    { ...base, to: 'Bob' },
    { ...base, to: 'b' },
    { ...base, kind: 'text' },
    { ...base, body: '' },
    { ...base, body: 42 },
    { ...base, from: 'mallory' },
    { type: 'send', id, to: 'bob', kind: 'message' },
  ];
  for (const c of cases) {
    const e = clientErr(JSON.stringify(c));
    assert.equal(e.code, 'bad_frame', JSON.stringify(c));
  }
  assert.equal(clientErr(JSON.stringify({ ...base, kind: 'x' })).ref, id);
  assert.equal(clientErr(JSON.stringify({ ...base, from: 'mallory' })).ref, id);
});

test('parseClientFrame bounds ack ids and refuses duplicates', () => {
  assert.equal(clientErr('{"type":"ack","ids":[]}').code, 'bad_frame');
  const many = Array.from({ length: MAX_ACK_IDS + 1 }, () => newMessageId());
  assert.equal(clientErr(JSON.stringify({ type: 'ack', ids: many })).code, 'bad_frame');
  assert.equal(clientErr(JSON.stringify({ type: 'ack', ids: [id, id] })).code, 'bad_frame');
  assert.equal(clientErr(JSON.stringify({ type: 'ack', ids: ['x'] })).code, 'bad_frame');
});

test('parseClientFrame refuses unknown signals', () => {
  assert.equal(clientErr('{"type":"signal","to":"bob","signal":"nudge"}').code, 'bad_frame');
});

test('body size: the largest body passes, one more character does not', () => {
  const body = 'A'.repeat(MAX_BODY_CHARS);
  clientOk({ type: 'send', id, to: 'bob', kind: 'message', body });
  const e = clientErr(
    JSON.stringify({ type: 'send', id, to: 'bob', kind: 'message', body: body + 'A' }),
  );
  assert.equal(e.code, 'bad_frame');
});

test('frames over MAX_FRAME_BYTES are refused before parsing, in chars or bytes', () => {
  const big = JSON.stringify({ type: 'ping', pad: 'x'.repeat(MAX_FRAME_BYTES) });
  assert.equal(clientErr(big).code, 'frame_too_large');
  assert.equal(clientErr(new TextEncoder().encode(big)).code, 'frame_too_large');
  // Multi-byte characters count as bytes: 40k euro signs are 120k UTF-8 bytes.
  const euros = JSON.stringify({ type: 'ping', pad: '€'.repeat(40_000) });
  assert.ok(euros.length < MAX_FRAME_BYTES);
  assert.equal(clientErr(euros).code, 'frame_too_large');
  assert.equal(parseClientFrame('{"type":"ping"}', { maxBytes: 5 }).ok, false);
});

test('parseServerFrame accepts every server frame and tolerates new optional fields', () => {
  const frames = [
    { type: 'hello', version: 1, username: 'alice', maxFrameBytes: MAX_FRAME_BYTES },
    { type: 'accepted', id },
    { type: 'deliver', id, from: 'alice', sentAt: Date.now(), kind: 'message', body: 'c' },
    { type: 'delivered', id, to: 'bob', at: Date.now() },
    { type: 'signal', from: 'alice', signal: 'typing' },
    { type: 'contact', id, event: 'request', from: 'alice', at: 1 },
    { type: 'contact', id, event: 'key-changed', from: 'alice', at: 1, keyVersion: 2 },
    { type: 'error', code: 'not_contact', message: 'no', ref: id },
    { type: 'drain', reconnectAfterMs: 500 },
    { type: 'pong' },
    { type: 'accepted', id, futureField: true },
  ];
  for (const f of frames) {
    const r = parseServerFrame(JSON.stringify(f));
    assert.ok(r.ok, `${JSON.stringify(f)}: ${JSON.stringify(!r.ok && r.error)}`);
  }
  assert.equal(parseServerFrame('{"type":"send"}').ok, false);
  const bad = parseServerFrame(JSON.stringify({ type: 'error', code: 'made_up', message: 'x' }));
  assert.equal(bad.ok, false);
});

test('errorFrame fills the catalog message and ref', () => {
  const f = errorFrame('blocked', undefined, id);
  assert.deepEqual(f, {
    type: 'error',
    code: 'blocked',
    message: 'This user does not accept messages from you.',
    ref: id,
  });
  assert.ok(parseServerFrame(JSON.stringify(f)).ok);
});
