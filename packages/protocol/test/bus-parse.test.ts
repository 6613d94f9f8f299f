import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  newMessageId,
  parseEngineMessage,
  parseContactEvent,
  parseGatewayMessage,
  parseRevocation,
  peekFrameRef,
  type BusSend,
} from '../src/index.js';

const send = (): BusSend => ({
  op: 'send',
  id: newMessageId(),
  from: 'alice',
  to: 'bob',
  kind: 'message',
  body: 'ciphertext',
  at: 1_700_000_000_000,
  gw: 'gw1',
  conn: 'gw1/1',
});

test('a valid engine message parses from bytes, with the fields it had', () => {
  const m = send();
  const r = parseEngineMessage(Buffer.from(JSON.stringify(m)));
  assert.deepEqual(r, { ok: true, message: m });
});

test('engine messages that no handler can take are refused with a reason, never thrown', () => {
  const cases: [string | Uint8Array, string][] = [
    ['not json', 'json'],
    [new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), 'json'],
    ['null', 'no_op'],
    ['[1,2]', 'no_op'],
    ['{"op":5}', 'no_op'],
    ['{"op":"nope"}', 'unknown_op'],
    ['{"op":"__proto__"}', 'unknown_op'],
    ['{"op":"toString"}', 'unknown_op'],
    ['{"op":"send"}', 'schema'],
    [JSON.stringify({ ...send(), from: 'Not A User' }), 'schema'],
    [JSON.stringify({ op: 'ack', user: 'bob', ids: 5, gw: 'x', conn: 'x/1' }), 'schema'],
    [JSON.stringify({ op: 'ack', user: 'bob', ids: [], gw: 'x', conn: 'x/1' }), 'schema'],
  ];
  for (const [body, reason] of cases) {
    const r = parseEngineMessage(body);
    assert.equal(r.ok, false, String(body));
    if (!r.ok) assert.equal(r.reason, reason, String(body));
  }
});

test('gateway messages: a push must carry a valid server frame', () => {
  const frame = { type: 'delivered', id: newMessageId(), to: 'bob', at: 1 };
  assert.equal(parseGatewayMessage(JSON.stringify({ op: 'push', to: 'alice', frame })).ok, true);
  const bogus = { op: 'push', to: 'alice', frame: { type: 'deliver', id: 'x' } };
  const r = parseGatewayMessage(JSON.stringify(bogus));
  assert.equal(r.ok, false);
  if (!r.ok) assert.equal(r.reason, 'schema');
  const unknownCode = { op: 'error', conn: 'gw/1', code: 'no_such_code' };
  assert.equal(parseGatewayMessage(JSON.stringify(unknownCode)).ok, false);
  // The engine's ops are not the gateway's.
  const wrongSide = parseGatewayMessage(JSON.stringify(send()));
  assert.equal(wrongSide.ok, false);
  if (!wrongSide.ok) assert.equal(wrongSide.reason, 'unknown_op');
});

test('peekFrameRef reads the id from the first bytes of a frame without parsing it', () => {
  const id = newMessageId();
  const sendText = JSON.stringify({ type: 'send', id, to: 'bob', kind: 'message', body: 'x' });
  assert.equal(peekFrameRef(sendText), id);
  assert.equal(peekFrameRef(Buffer.from(sendText)), id);
  assert.equal(peekFrameRef(JSON.stringify({ type: 'ack', ids: [id] })), id);
  // Not there, too far in, or not an id: no ref, and no exception on garbage bytes.
  assert.equal(peekFrameRef('{"type":"ping"}'), undefined);
  assert.equal(peekFrameRef(`{"type":"send","body":"${'x'.repeat(200)}","id":"${id}"}`), undefined);
  assert.equal(peekFrameRef(new Uint8Array([0xff, 0x00, 0xc3, 0x28])), undefined);
  assert.equal(peekFrameRef('{"id":"not-an-id"}'), undefined);
});

test('contact events from the api are checked like bus messages', () => {
  const frame = { type: 'contact', id: newMessageId(), event: 'request', from: 'alice', at: 1 };
  assert.deepEqual(parseContactEvent(JSON.stringify({ to: 'bob', frame })), {
    ok: true,
    message: { to: 'bob', frame },
  });
  for (const bad of [
    '{',
    'null',
    '{"to":"bob"}',
    JSON.stringify({ to: 'bob', frame: { type: 'contact' } }),
  ]) {
    assert.equal(parseContactEvent(bad).ok, false, bad);
  }
});

test('a revocation parses; anything off its schema is refused with a reason, never thrown', () => {
  const m = { user: 'bob', sids: ['s1'], reason: 'logout' };
  assert.deepEqual(parseRevocation(JSON.stringify(m)), { ok: true, message: m });
  const cases: [string, string][] = [
    ['{', 'json'],
    ['null', 'schema'],
    [JSON.stringify({ user: 'bob', reason: 'whim' }), 'schema'],
    [JSON.stringify({ ...m, extra: 1 }), 'schema'],
  ];
  for (const [bad, reason] of cases) {
    const r = parseRevocation(bad);
    assert.equal(r.ok ? 'ok' : r.reason, reason, bad);
  }
});
