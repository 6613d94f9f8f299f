/**
 * The OpenAPI document is the contract: every live answer of every route (a real api on
 * the test environment's FerretDB and Redis) has its status declared for that operation
 * in `/docs/json`, and its body validates against the declared schema, as a client
 * generated from the document would read it. Each operation is driven through its
 * success and the refusals any client can meet (no or a bad token, no body, bad JSON, a
 * text body, an oversize body, an unknown user); a method a path does not have is a 405
 * whose `Allow` lists the document's methods for that path.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { ERRORS, isErrorCode, type Session } from '@gossip/protocol';
import { Ajv, type ValidateFunction } from 'ajv';
import formatsModule from 'ajv-formats';
import type { LightMyRequestResponse } from 'fastify';
import { bearer, keySets, PASSWORD, register, startApi, type Harness } from './helpers.js';

// ajv-formats is CommonJS: under ESM its function may be the default export's default.
type AddFormats = (ajv: Ajv) => Ajv;
const addFormats = ((formatsModule as unknown as { default?: AddFormats }).default ??
  formatsModule) as unknown as AddFormats;

interface Operation {
  responses: Record<string, { content?: Record<string, { schema?: object }> }>;
}
type Document = { paths: Record<string, Record<string, Operation>> };

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]);

let h: Harness;
let doc: Document;
let alice: Session;
let bob: Session;
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
const validators = new Map<object, ValidateFunction>();
/** `METHOD /path/{param}` -> statuses seen, for the coverage assertions. */
const seen = new Map<string, Set<number>>();

before(async () => {
  h = await startApi();
  const [k1, k2] = await keySets();
  alice = await register(h.app, `alice_${Date.now().toString(36)}`, k1!);
  bob = await register(h.app, `bob_${Date.now().toString(36)}`, k2!);
  const res = await h.app.ops.inject({ method: 'GET', url: '/docs/json' });
  assert.equal(res.statusCode, 200);
  doc = res.json<Document>();
});
after(async () => h?.close());

/** `/v1/users/{username}` with the parameters filled in. */
function concrete(path: string, username: string, id?: string): string {
  return path
    .replace('{username}', encodeURIComponent(username))
    .replace('{id}', id ?? '00000000-aaaa-bbbb-cccc-000000000000');
}

/** Asserts `res` is a declared answer of `method path` and its body fits the schema. */
function check(method: string, path: string, res: LightMyRequestResponse): void {
  const op = doc.paths[path]?.[method.toLowerCase()];
  assert.ok(op, `${method} ${path} is in the document`);
  const where = `${method} ${path} answered ${res.statusCode} ${res.body.slice(0, 200)}`;
  const declared = op.responses[String(res.statusCode)];
  assert.ok(declared, `${where}: not declared (declared: ${Object.keys(op.responses).join(', ')})`);
  const key = `${method} ${path}`;
  seen.set(key, (seen.get(key) ?? new Set()).add(res.statusCode));
  const json = declared.content?.['application/json']?.schema;
  if (res.statusCode === 204) {
    assert.equal(res.body, '', `${where}: a 204 has no body`);
    return;
  }
  if (!json) return;
  let validate = validators.get(json);
  if (!validate) {
    validate = ajv.compile(json);
    validators.set(json, validate);
  }
  const body: unknown = res.json();
  assert.ok(validate(body), `${where}: ${ajv.errorsText(validate.errors)}`);
  if (res.statusCode >= 400) {
    const code = (body as { error: { code: string } }).error.code;
    assert.ok(isErrorCode(code) && ERRORS[code].status === res.statusCode, `${where}: code`);
  }
}

async function send(
  method: string,
  path: string,
  opts: {
    username?: string;
    token?: string;
    body?: string | Buffer;
    type?: string;
    query?: string;
    id?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = opts.type ?? 'application/json';
  const res = await h.app.inject({
    method: method as 'GET',
    url: concrete(path, opts.username ?? bob.user.username, opts.id) + (opts.query ?? ''),
    headers,
    ...(opts.body === undefined ? {} : { payload: opts.body }),
  });
  check(method, path, res);
  return res;
}

test('every refusal of every operation is declared with its error body', async () => {
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = ops[method];
      if (!op) continue;
      const M = method.toUpperCase();
      const hasBody = ['post', 'put', 'patch', 'delete'].includes(method);
      await send(M, path);
      await send(M, path, { token: 'a.b.c' });
      await send(M, path, { token: alice.accessToken });
      if (path.includes('{username}')) {
        await send(M, path, { token: alice.accessToken, username: 'nobody_here', body: '{}' });
        await send(M, path, { token: alice.accessToken, username: 'No Such!', body: '{}' });
      }
      if (hasBody) {
        await send(M, path, { token: alice.accessToken, body: '{}' });
        await send(M, path, { token: alice.accessToken, body: '{"a":' });
        await send(M, path, { token: alice.accessToken, body: 'hello', type: 'text/plain' });
        const big = JSON.stringify({ pad: 'x'.repeat(300 * 1024) });
        await send(M, path, { token: alice.accessToken, body: big });
      }
    }
  }
});

test('the successes of the operations match their declared bodies', async () => {
  // The refusals above ended these users' sessions (logout everywhere ran): fresh ones.
  const [k1, k2] = await keySets();
  alice = await register(h.app, `alice2_${Date.now().toString(36)}`, k1!);
  bob = await register(h.app, `bob2_${Date.now().toString(36)}`, k2!);
  const a = alice.accessToken;
  const b = bob.accessToken;
  const json = (v: unknown): string => JSON.stringify(v);
  await send('GET', '/healthz');
  await send('GET', '/readyz');
  await send('GET', '/v1/me', { token: a });
  await send('PATCH', '/v1/me/profile', { token: a, body: json({ displayName: 'Alice' }) });
  await send('GET', '/v1/users/{username}', { token: a });
  await send('GET', '/v1/users/{username}/keys', { token: a });
  await send('GET', '/v1/users', { token: a, query: `?prefix=${bob.user.username.slice(0, 3)}` });
  await send('PUT', '/v1/me/avatar', { token: a, body: PNG, type: 'image/png' });
  await send('GET', '/v1/users/{username}/avatar', { token: b, username: alice.user.username });
  await send('DELETE', '/v1/me/avatar', { token: a });
  await send('GET', '/v1/users/{username}/avatar', { token: b, username: alice.user.username });
  // A contact's life, each change with `{}` (twice where the second is a refusal).
  const contactSteps: Array<[string, string, string, string]> = [
    ['POST', '/v1/contacts/{username}/request', a, bob.user.username],
    ['POST', '/v1/contacts/{username}/request', a, bob.user.username],
    ['POST', '/v1/contacts/{username}/accept', b, alice.user.username],
    ['POST', '/v1/contacts/{username}/block', a, bob.user.username],
    ['POST', '/v1/contacts/{username}/unblock', a, bob.user.username],
    ['POST', '/v1/contacts/{username}/unblock', a, bob.user.username],
    ['DELETE', '/v1/contacts/{username}', a, bob.user.username],
    ['POST', '/v1/contacts/{username}/reject', a, bob.user.username],
    ['POST', '/v1/contacts/{username}/request', a, alice.user.username],
  ];
  for (const [method, path, token, username] of contactSteps) {
    await send(method, path, { token, username, body: '{}' });
  }
  await send('GET', '/v1/contacts', { token: a });
  // Attachments (issue 17): alice uploads for bob, her contact again.
  await send('POST', '/v1/contacts/{username}/request', { token: a, body: '{}' });
  await send('POST', '/v1/contacts/{username}/accept', {
    token: b,
    username: alice.user.username,
    body: '{}',
  });
  const blob = randomBytes(40);
  const digest = createHash('sha256').update(blob).digest('base64url');
  await send('POST', '/v1/attachments', { token: a, body: json({ size: 1e12 }) });
  const made = await send('POST', '/v1/attachments', { token: a, body: json({ size: 40 }) });
  const id = made.json<{ id: string }>().id;
  const part = {
    token: a,
    id,
    body: blob,
    type: 'application/octet-stream',
    headers: { 'content-range': 'bytes 0-39/40' },
  };
  await send('POST', '/v1/attachments/{id}/finish', {
    token: a,
    id,
    body: json({ digest, recipients: [bob.user.username] }),
  });
  await send('PUT', '/v1/attachments/{id}/content', { ...part, headers: {} });
  await send('PUT', '/v1/attachments/{id}/content', part);
  await send('PUT', '/v1/attachments/{id}/content', part);
  await send('GET', '/v1/attachments/{id}', { token: a, id });
  await send('POST', '/v1/attachments/{id}/finish', {
    token: a,
    id,
    body: json({ digest, recipients: [bob.user.username, alice.user.username] }),
  });
  await send('POST', '/v1/attachments/{id}/finish', {
    token: a,
    id,
    body: json({ digest, recipients: [bob.user.username] }),
  });
  await send('GET', '/v1/attachments/{id}/content', { token: b, id });
  await send('GET', '/v1/attachments/{id}/content', {
    token: b,
    id,
    headers: { range: 'bytes=5-' },
  });
  await send('GET', '/v1/attachments/{id}/content', {
    token: b,
    id,
    headers: { range: 'bytes=99-' },
  });
  await send('GET', '/v1/attachments/{id}', { token: b, id: 'f'.repeat(32) });
  await send('DELETE', '/v1/attachments/{id}', { token: a, id });
  const other = await send('POST', '/v1/attachments', { token: a, body: json({ size: 16 }) });
  const otherId = other.json<{ id: string }>().id;
  await send('PUT', '/v1/attachments/{id}/content', {
    ...part,
    id: otherId,
    body: blob.subarray(0, 16),
    headers: { 'content-range': 'bytes 0-15/16' },
  });
  await send('POST', '/v1/attachments/{id}/finish', {
    token: a,
    id: otherId,
    body: json({ digest, recipients: [bob.user.username] }),
  });
  await send('GET', '/v1/me/sessions', { token: a });
  await send('POST', '/v1/auth/ws-ticket', { token: a });
  await send('POST', '/v1/auth/login', {
    body: json({ username: alice.user.username, password: 'wrong password!' }),
  });
  const login = await send('POST', '/v1/auth/login', {
    body: json({ username: alice.user.username, password: PASSWORD }),
  });
  const second = login.json<Session>();
  await send('POST', '/v1/auth/refresh', { body: json({ refreshToken: second.refreshToken }) });
  await send('POST', '/v1/auth/refresh', { body: json({ refreshToken: second.refreshToken }) });
  await send('POST', '/v1/auth/logout', { body: json({ refreshToken: second.refreshToken }) });
  await send('DELETE', '/v1/me/sessions/{id}', { token: a });
  await send('POST', '/v1/me/password', {
    token: a,
    body: json({ currentPassword: 'not the password', newPassword: 'a new long password' }),
  });
  await send('POST', '/v1/auth/register', {
    body: json({ username: bob.user.username, password: PASSWORD, keys: (await keySets())[1] }),
  });
  await send('DELETE', '/v1/me', { token: b, body: json({ password: PASSWORD }) });
  await send('DELETE', '/v1/me/sessions', { token: a });

  for (const [key, statuses] of [
    ['GET /v1/me', 200],
    ['PUT /v1/me/avatar', 200],
    ['GET /v1/users/{username}/avatar', 200],
    ['POST /v1/contacts/{username}/request', 204],
    ['POST /v1/contacts/{username}/request', 409],
    ['POST /v1/auth/register', 409],
    ['POST /v1/auth/login', 401],
    ['POST /v1/auth/refresh', 200],
    ['DELETE /v1/me', 204],
    ['POST /v1/attachments', 201],
    ['POST /v1/attachments', 413],
    ['PUT /v1/attachments/{id}/content', 200],
    ['PUT /v1/attachments/{id}/content', 409],
    ['POST /v1/attachments/{id}/finish', 200],
    ['POST /v1/attachments/{id}/finish', 403],
    ['POST /v1/attachments/{id}/finish', 409],
    ['POST /v1/attachments/{id}/finish', 422],
    ['GET /v1/attachments/{id}', 200],
    ['GET /v1/attachments/{id}', 404],
    ['GET /v1/attachments/{id}/content', 200],
    ['GET /v1/attachments/{id}/content', 206],
    ['GET /v1/attachments/{id}/content', 416],
    ['DELETE /v1/attachments/{id}', 204],
  ] as const) {
    assert.ok(
      seen.get(key)?.has(statuses),
      `${key} was seen answering ${statuses} (seen: ${[...(seen.get(key) ?? [])].join(', ')})`,
    );
  }
  // Every operation of the document was driven.
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      if (ops[method]) assert.ok(seen.has(`${method.toUpperCase()} ${path}`), `${method} ${path}`);
    }
  }
});

test('a method a path does not have is a 405 with the Allow of the document', async () => {
  const fresh = await register(h.app, `carol_${Date.now().toString(36)}`, (await keySets())[0]!);
  for (const [path, ops] of Object.entries(doc.paths)) {
    const declared = METHODS.filter((m) => ops[m]).map((m) => m.toUpperCase());
    const missing = METHODS.map((m) => m.toUpperCase()).find((m) => !declared.includes(m));
    if (!missing) continue;
    const res = await h.app.inject({
      method: missing as 'GET',
      url: concrete(path, fresh.user.username),
      headers: bearer(fresh),
    });
    assert.equal(res.statusCode, 405, `${missing} ${path}: ${res.body}`);
    const allow = (res.headers.allow as string).split(', ');
    const expected = [...declared, ...(declared.includes('GET') ? ['HEAD'] : [])].sort();
    assert.deepEqual(allow, expected, `${missing} ${path}`);
    assert.equal(res.json<{ error: { code: string } }>().error.code, 'method_not_allowed');
  }
  const unknown = await h.app.inject({ method: 'GET', url: '/v1/nothing-here' });
  assert.equal(unknown.statusCode, 404);
});
