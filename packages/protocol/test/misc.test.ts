import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import {
  ERRORS,
  ERROR_CODES,
  RegisterRequest,
  contactDocId,
  errorBody,
  isErrorCode,
  isMessageId,
  newMessageId,
  sendPermission,
  sendPermissionFromDocs,
  apiPath,
  API_PATHS,
} from '../src/index.js';

test('newMessageId makes distinct well-formed ids', () => {
  const ids = new Set(Array.from({ length: 1000 }, () => newMessageId()));
  assert.equal(ids.size, 1000);
  for (const id of ids) assert.ok(isMessageId(id), id);
  assert.equal(isMessageId('00000000-0000-0000-0000-000000000000'), false);
  assert.equal(isMessageId(42), false);
});

test('every catalog entry has a 4xx/5xx status and a message', () => {
  for (const code of ERROR_CODES) {
    const spec = ERRORS[code];
    assert.ok(spec.status >= 400 && spec.status < 600, code);
    assert.ok(spec.message.length > 0, code);
    assert.match(code, /^[a-z_]+$/);
  }
  assert.equal(isErrorCode('blocked'), true);
  assert.equal(isErrorCode('toString'), false);
  assert.deepEqual(errorBody('username_taken'), {
    error: { code: 'username_taken', message: 'This username is taken.' },
  });
});

test('sendPermission: only mutual acceptance without blocks lets messages through', () => {
  const acc = { state: 'accepted', blocked: false } as const;
  assert.equal(sendPermission(acc, acc), 'ok');
  assert.equal(sendPermission(undefined, undefined), 'not_contact');
  assert.equal(
    sendPermission({ state: 'outgoing', blocked: false }, { state: 'incoming', blocked: false }),
    'not_contact',
  );
  // Blocked by the recipient: told what a stranger is told, so the block stays hidden.
  assert.equal(sendPermission(acc, { state: 'accepted', blocked: true }), 'not_contact');
  assert.equal(sendPermission(null, { state: 'none', blocked: true }), 'not_contact');
  // The sender's own block is no secret to the sender.
  assert.equal(sendPermission({ state: 'accepted', blocked: true }, acc), 'blocked');
});

test('sendPermissionFromDocs picks the two sides by id', () => {
  const docs = [
    { _id: contactDocId('alice', 'bob'), state: 'accepted', blocked: false },
    { _id: contactDocId('bob', 'alice'), state: 'accepted', blocked: false },
  ] as const;
  assert.equal(sendPermissionFromDocs('alice', 'bob', docs), 'ok');
  assert.equal(sendPermissionFromDocs('alice', 'carol', docs), 'not_contact');
  assert.equal(
    sendPermissionFromDocs('bob', 'alice', [{ ...docs[0], blocked: true }, docs[1]]),
    'not_contact',
  );
  assert.equal(
    sendPermissionFromDocs('alice', 'bob', [{ ...docs[0], blocked: true }, docs[1]]),
    'blocked',
  );
});

test('RegisterRequest refuses unknown fields, bad base64 and a private key sized blob', () => {
  const check = TypeCompiler.Compile(RegisterRequest);
  const ok = {
    username: 'alice',
    password: 'correct horse',
    keys: { wrappingKey: 'AAAA', signingKey: 'BBBB' },
  };
  assert.equal(check.Check(ok), true);
  assert.equal(check.Check({ ...ok, admin: true }), false);
  assert.equal(check.Check({ ...ok, keys: { ...ok.keys, privateKey: 'x' } }), false);
  assert.equal(check.Check({ ...ok, keys: { ...ok.keys, wrappingKey: 'not base64!' } }), false);
  assert.equal(check.Check({ ...ok, keys: { ...ok.keys, wrappingKey: 'A'.repeat(2000) } }), false);
  assert.equal(check.Check({ ...ok, password: 'short' }), false);
  assert.equal(check.Check({ ...ok, displayName: 'bell\u0007' }), false);
  assert.equal(check.Check({ ...ok, displayName: 'Alice Æ' }), true);
});

test('apiPath fills the username', () => {
  assert.equal(apiPath(API_PATHS.userKeys, 'bob'), '/v1/users/bob/keys');
  assert.equal(apiPath(API_PATHS.login), '/v1/auth/login');
});
