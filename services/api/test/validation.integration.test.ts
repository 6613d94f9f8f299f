/**
 * Every endpoint refuses bad input (wrong types, oversized fields, unknown fields, bad
 * base64 or keys, bad JSON, wrong content types) with a 4xx JSON error from the catalog,
 * and the database is byte-for-byte the same afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { isErrorCode, type PublicKeys, type Session } from '@gossip/protocol';
import type { Db } from 'mongodb';
import { PASSWORD, bearer, keySets, register, startApi, type Harness } from './helpers.js';

let h: Harness;
let keys: PublicKeys[];
let alice: Session;

before(async () => {
  keys = await keySets();
  h = await startApi();
  alice = await register(h.app, 'alice', keys[0]!);
  await register(h.app, 'bob', keys[1]!);
});
after(() => h.close());

async function dumpDb(db: Db): Promise<string> {
  const names = (await db.listCollections().toArray()).map((c) => c.name).sort();
  const parts: string[] = [];
  for (const name of names) {
    parts.push(name, JSON.stringify(await db.collection(name).find({}).sort({ _id: 1 }).toArray()));
  }
  return parts.join('\n');
}

interface Case {
  name: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  auth?: boolean;
  payload?: unknown;
  /** Raw body text instead of JSON. */
  raw?: string;
  contentType?: string;
  status?: number;
}

function cases(): Case[] {
  const k = keys[0]!;
  const reg = { username: 'newbie', password: PASSWORD, keys: k };
  const out: Case[] = [];
  const add = (c: Case) => out.push(c);
  const r = (name: string, payload: unknown, status?: number) =>
    add({ name: `register ${name}`, method: 'POST', url: '/v1/auth/register', payload, status });
  r('username of wrong type', { ...reg, username: 42 });
  r('uppercase username', { ...reg, username: 'Newbie' });
  r('username too long', { ...reg, username: 'a'.repeat(33) });
  r('username too short', { ...reg, username: 'ab' });
  r('password too short', { ...reg, password: 'short' });
  r('password too long', { ...reg, password: 'p'.repeat(257) });
  r('password of wrong type', { ...reg, password: ['x'.repeat(10)] });
  r('display name too long', { ...reg, displayName: 'd'.repeat(65) });
  r('unknown top-level field', { ...reg, isAdmin: true });
  r('unknown key field', { ...reg, keys: { ...k, privateKey: 'AAAA' } });
  r('missing keys', { username: 'newbie', password: PASSWORD });
  r('missing signing key', { ...reg, keys: { wrappingKey: k.wrappingKey } });
  r('non-base64 key', { ...reg, keys: { ...k, wrappingKey: 'not base64 at all!' } });
  r('unpadded base64 key', { ...reg, keys: { ...k, signingKey: k.signingKey.replace(/=+$/, '') } });
  r('oversized key', { ...reg, keys: { ...k, wrappingKey: 'A'.repeat(4000) } });
  r('base64 garbage as key', { ...reg, keys: { ...k, wrappingKey: 'AAAAAAAA' } }, 400);
  r('array body', [reg]);
  r('null body', null);
  r('string body', 'hello');
  add({
    name: 'register bad JSON',
    method: 'POST',
    url: '/v1/auth/register',
    raw: '{"username":',
    status: 400,
  });
  add({
    name: 'register text/plain',
    method: 'POST',
    url: '/v1/auth/register',
    raw: JSON.stringify(reg),
    contentType: 'text/plain',
    status: 415,
  });
  add({
    name: 'register body over the limit',
    method: 'POST',
    url: '/v1/auth/register',
    raw: JSON.stringify({ ...reg, displayName: 'x'.repeat(40_000) }),
    status: 413,
  });

  const l = (name: string, payload: unknown) =>
    add({ name: `login ${name}`, method: 'POST', url: '/v1/auth/login', payload });
  l('username of wrong type', { username: 1, password: PASSWORD });
  l('unknown field', { username: 'alice', password: PASSWORD, otp: '123' });
  l('missing password', { username: 'alice' });
  l('oversized password', { username: 'alice', password: 'p'.repeat(300) });

  for (const path of ['refresh', 'logout']) {
    const t = (name: string, payload: unknown) =>
      add({ name: `${path} ${name}`, method: 'POST', url: `/v1/auth/${path}`, payload });
    t('token of wrong type', { refreshToken: 12345 });
    t('token with bad characters', { refreshToken: 'abc def ghi jkl mno pqr' });
    t('token too long', { refreshToken: 'a'.repeat(200) });
    t('unknown field', { refreshToken: 'a'.repeat(43), all: true });
    t('missing token', {});
  }

  const authed = (c: Omit<Case, 'auth'>) => add({ ...c, auth: true });
  const p = (name: string, payload: unknown) =>
    authed({ name: `profile ${name}`, method: 'PATCH', url: '/v1/me/profile', payload });
  p('display name of wrong type', { displayName: 5 });
  p('display name too long', { displayName: 'x'.repeat(65) });
  p('display name with control characters', { displayName: 'bell\u0007' });
  p('unknown field', { displayName: 'ok', username: 'root' });
  p('empty display name', { displayName: '' });

  const kc = (name: string, payload: unknown, status?: number) =>
    authed({ name: `key change ${name}`, method: 'PUT', url: '/v1/me/keys', payload, status });
  kc('missing keys', {});
  kc('missing password', { keys: k });
  kc('proof too short', { keys: k, password: 'some password', proof: 'AAAA' });
  kc('proof not base64', { keys: k, password: 'some password', proof: '!'.repeat(86) + '==' });
  kc('unknown field', { keys: k, reason: 'x' });
  kc('bad base64', { keys: { ...k, signingKey: '@@@@' } });
  kc('not a key', { keys: { ...k, signingKey: Buffer.alloc(44).toString('base64') } }, 400);

  const s = (name: string, query: string) =>
    authed({ name: `search ${name}`, method: 'GET', url: `/v1/users${query}` });
  s('without prefix', '');
  s('with bad prefix characters', '?prefix=A*');
  s('with too long prefix', `?prefix=${'a'.repeat(33)}`);
  s('with limit 0', '?prefix=a&limit=0');
  s('with limit 51', '?prefix=a&limit=51');
  s('with limit text', '?prefix=a&limit=ten');
  s('with bad cursor', '?prefix=a&after=B!');
  s('with unknown parameter', '?prefix=a&sort=desc');

  authed({ name: 'keys of a bad username', method: 'GET', url: '/v1/users/NOT_VALID/keys' });
  authed({ name: 'profile of a bad username', method: 'GET', url: '/v1/users/a%00b' });
  authed({ name: 'avatar of a bad username', method: 'GET', url: '/v1/users/x/avatar' });
  for (const action of ['request', 'reject', 'block', 'unblock']) {
    authed({
      name: `contact ${action} with a bad username`,
      method: 'POST',
      url: `/v1/contacts/B@D/${action}`,
    });
    authed({
      name: `contact ${action} with an unknown field`,
      method: 'POST',
      url: `/v1/contacts/bob/${action}`,
      payload: { message: 'hi' },
    });
  }
  authed({ name: 'contact remove with a bad username', method: 'DELETE', url: '/v1/contacts/a.b' });
  authed({
    name: 'contact accept with an oversized envelope',
    method: 'POST',
    url: '/v1/contacts/bob/accept',
    payload: { keyEnvelope: 'x'.repeat(17_000) },
  });
  authed({
    name: 'contact accept with an envelope of wrong type',
    method: 'POST',
    url: '/v1/contacts/bob/accept',
    payload: { keyEnvelope: { a: 1 } },
  });
  authed({
    name: 'delete account with a password of wrong type',
    method: 'DELETE',
    url: '/v1/me',
    payload: { password: true },
  });
  authed({
    name: 'delete account with an unknown field',
    method: 'DELETE',
    url: '/v1/me',
    payload: { password: PASSWORD, force: true },
  });
  add({ name: 'unknown route', method: 'GET', url: '/v1/nope', status: 404 });
  // Issue 15 §6: a method the path does not have is a 405 (with Allow), no longer a 404.
  add({ name: 'unknown method', method: 'PATCH', url: '/v1/auth/login', status: 405 });
  return out;
}

test('every endpoint refuses bad input with a 4xx JSON error and stores nothing', async () => {
  const before = await dumpDb(h.db);
  const all = cases();
  assert.ok(all.length > 70, `${all.length} cases`);
  for (const c of all) {
    const headers: Record<string, string> = {};
    if (c.auth) Object.assign(headers, bearer(alice));
    let payload: string | undefined;
    if (c.raw !== undefined) {
      payload = c.raw;
      headers['content-type'] = c.contentType ?? 'application/json';
    } else if (c.payload !== undefined) {
      payload = JSON.stringify(c.payload);
      headers['content-type'] = 'application/json';
    }
    const res = await h.app.inject({ method: c.method, url: c.url, headers, payload });
    const where = `${c.name}: ${res.statusCode} ${res.body.slice(0, 200)}`;
    assert.ok(res.statusCode >= 400 && res.statusCode < 500, where);
    if (c.status !== undefined) assert.equal(res.statusCode, c.status, where);
    assert.match(String(res.headers['content-type']), /^application\/json/, where);
    const body = res.json<{ error?: { code?: unknown; message?: unknown } }>();
    assert.ok(isErrorCode(body.error?.code), where);
    assert.equal(typeof body.error?.message, 'string', where);
  }
  assert.equal(await dumpDb(h.db), before, 'the database changed');
});

test('the same requests without a token are 401 before their bodies are looked at', async () => {
  for (const c of cases().filter((x) => x.auth)) {
    const res = await h.app.inject({ method: c.method, url: c.url, payload: c.payload as object });
    assert.equal(res.statusCode, 401, c.name);
  }
});
