import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiClient, type SessionTokens } from '../src/api.js';
import { ApiError, NetworkError, NotLoggedInError } from '../src/errors.js';
import { FakeApi } from './fake-api.js';

const keys = { wrappingKey: 'AAAA', signingKey: 'AAAA' };

async function loggedIn(): Promise<{ fake: FakeApi; api: ApiClient; sessions: unknown[] }> {
  const fake = new FakeApi();
  const sessions: unknown[] = [];
  const api = new ApiClient({
    baseUrl: 'https://api.test/',
    fetch: fake.fetch,
    onSession: (s) => void sessions.push(s),
  });
  await api.register({ username: 'alice', password: 'correct horse', keys });
  return { fake, api, sessions };
}

test('register logs in and reports the session to onSession', async () => {
  const { api, sessions } = await loggedIn();
  assert.equal(api.currentSession?.username, 'alice');
  assert.equal(sessions.length, 1);
  assert.ok((api.currentSession?.accessExpiresAt ?? 0) > Date.now());
});

test('a 401 token_expired refreshes the session once and retries the call', async () => {
  const { fake, api, sessions } = await loggedIn();
  const before = api.currentSession?.refreshToken;
  fake.expireAccessTokens();
  const me = await api.me();
  assert.equal(me.username, 'alice');
  assert.notEqual(api.currentSession?.refreshToken, before);
  assert.equal(sessions.length, 2);
  assert.deepEqual(fake.calls.slice(-3), ['GET /v1/me', 'POST /v1/auth/refresh', 'GET /v1/me']);
});

test('concurrent 401s share one refresh (refresh tokens are single use)', async () => {
  const { fake, api } = await loggedIn();
  fake.expireAccessTokens();
  const results = await Promise.all([api.me(), api.me(), api.me()]);
  assert.equal(results.length, 3);
  assert.equal(fake.calls.filter((c) => c === 'POST /v1/auth/refresh').length, 1);
});

test('a revoked refresh token ends the session with NotLoggedInError', async () => {
  const { fake, api, sessions } = await loggedIn();
  await api.refresh(); // spends the first refresh token
  const stale = new ApiClient({
    baseUrl: 'https://api.test',
    fetch: fake.fetch,
    session: sessions[0] as SessionTokens,
    onSession: (s) => void sessions.push(s),
  });
  fake.expireAccessTokens();
  await assert.rejects(stale.me(), NotLoggedInError);
  assert.equal(stale.currentSession, null);
  assert.equal(sessions.at(-1), null);
});

test('wrong password is an ApiError invalid_credentials and is not retried', async () => {
  const { fake, api } = await loggedIn();
  const n = fake.calls.length;
  await assert.rejects(
    api.login({ username: 'alice', password: 'wrong password' }),
    (e: unknown) => e instanceof ApiError && e.code === 'invalid_credentials' && e.status === 401,
  );
  assert.equal(fake.calls.length, n + 1);
});

test('calls that need a session fail fast without one', async () => {
  const api = new ApiClient({ baseUrl: 'https://api.test', fetch: new FakeApi().fetch });
  await assert.rejects(api.me(), NotLoggedInError);
});

test('an unreachable server is a NetworkError naming the URL', async () => {
  const api = new ApiClient({ baseUrl: 'http://127.0.0.1:9', timeoutMs: 2000 });
  await assert.rejects(
    api.login({ username: 'alice', password: 'x' }),
    (e: unknown) => e instanceof NetworkError && e.message.includes('http://127.0.0.1:9'),
  );
});

test('a non-protocol error body becomes http_<status>', async () => {
  const api = new ApiClient({
    baseUrl: 'https://api.test',
    fetch: async () => new Response('<html>bad gateway</html>', { status: 502 }),
  });
  await assert.rejects(
    api.login({ username: 'alice', password: 'x' }),
    (e: unknown) => e instanceof ApiError && e.code === 'http_502',
  );
});

test('logout forgets the session even if the server call fails', async () => {
  const { api, sessions } = await loggedIn();
  await api.logout();
  assert.equal(api.currentSession, null);
  assert.equal(sessions.at(-1), null);
});
