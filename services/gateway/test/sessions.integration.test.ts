/**
 * Sessions end when they should, everywhere (issue 13 §2), against real api and gateway
 * processes on the test environment's servers: asymmetric keys and their rotation, the
 * token's uid, expiry and in-band re-authentication, revocation reaching every gateway over
 * Redis, password change, the session list, the absolute session lifetime and refresh-token
 * tombstones.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { exportPublicKeys, generateIdentityKeys } from '@gossip/crypto';
import {
  API_PATHS,
  CLOSE_CODES,
  type HelloFrame,
  type Session,
  type SessionList,
  type WsTicket,
} from '@gossip/protocol';
import {
  generateSigningJwk,
  parseSigningKeys,
  publicKeySet,
  signAccessToken,
} from '@gossip/servicekit';
import { Stack, type GatewayService, type Service } from './support/stack.js';
import { UpgradeRefused, WsClient, type Closed } from './support/wsclient.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The `uid` claim of an access token (the account's random id). */
function uidOf(token: string): string {
  const payload = token.split('.')[1] ?? '';
  return (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { uid: string }).uid;
}

/** The close of `c`, or a failure after `ms` (a guard, not a timing assertion). */
async function closedWithin(c: WsClient, ms = 10_000): Promise<Closed> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([c.closed, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether `c` still answers a ping (it is open and served). */
async function answersPing(c: WsClient): Promise<boolean> {
  const ts = Date.now() + Math.floor(Math.random() * 1e6);
  c.send({ type: 'ping', ts });
  try {
    await c.waitFor((f) => f.type === 'pong' && f.ts === ts, 5000, 'pong');
    return true;
  } catch {
    return false;
  }
}

async function refusedStatus(
  url: string,
  token: string,
): Promise<{ status: number; code: string }> {
  try {
    const c = await WsClient.connect(url, token);
    await c.close();
    return { status: 101, code: '' };
  } catch (err) {
    assert.ok(err instanceof UpgradeRefused, String(err));
    return {
      status: err.status,
      code: (JSON.parse(err.body) as { error: { code: string } }).error.code,
    };
  }
}

describe('sessions end when they should, everywhere', () => {
  const stack = new Stack('sessions');
  /** Default TTLs. */
  let api: Service;
  /** 2 s access tokens and sessions of at most 4 s. */
  let shortApi: Service;
  let gw1: GatewayService;
  let gw2: GatewayService;
  const passwords = new Map<string, string>();

  before(async () => {
    [api, shortApi, gw1, gw2] = await Promise.all([
      stack.startApi(),
      stack.startApi({ API_ACCESS_TOKEN_TTL_SECONDS: '2', API_SESSION_MAX_AGE_SECONDS: '4' }),
      stack.startGateway(),
      stack.startGateway(),
    ]);
  });
  after(() => stack.close());

  async function call(
    base: Service,
    method: string,
    path: string,
    opts: { token?: string; body?: unknown } = {},
  ): Promise<{ status: number; body: unknown }> {
    const res = await fetch(base.url + path, {
      method,
      headers: {
        ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      },
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  }

  async function ok<T>(base: Service, method: string, path: string, opts = {}): Promise<T> {
    const r = await call(base, method, path, opts);
    assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as T;
  }

  async function register(username: string, base = api): Promise<Session> {
    const password = `pw-${randomBytes(8).toString('hex')}`;
    passwords.set(username, password);
    const keys = await exportPublicKeys(await generateIdentityKeys());
    return ok<Session>(base, 'POST', API_PATHS.register, { body: { username, password, keys } });
  }

  function login(username: string, base = api): Promise<Session> {
    return ok<Session>(base, 'POST', API_PATHS.login, {
      body: { username, password: passwords.get(username) },
    });
  }

  const name = (p: string) => `${p}${randomBytes(3).toString('hex')}`;

  it('key rotation: a gateway holding two public keys accepts both; one without the old key refuses it', async () => {
    const user = name('rot');
    const s = await register(user);
    const newKey = generateSigningJwk('next');
    const both = await stack.startGateway({
      GATEWAY_JWT_PUBLIC_KEYS: JSON.stringify(publicKeySet({ keys: [newKey, stack.jwk] })),
    });
    const onlyNew = await stack.startGateway({
      GATEWAY_JWT_PUBLIC_KEYS: JSON.stringify(publicKeySet({ keys: [newKey] })),
    });
    const byNew = await signAccessToken(
      { username: user, uid: uidOf(s.accessToken), sid: 'rotation-session' },
      parseSigningKeys(JSON.stringify({ keys: [newKey] })).signing,
      60,
    );
    // The api's token (old key) and one signed with the new key both open on `both`.
    for (const token of [s.accessToken, byNew]) {
      assert.equal((await refusedStatus(both.wsUrl, token)).status, 101);
    }
    // With the old key dropped, its tokens are refused; the new key's are not.
    assert.deepEqual(await refusedStatus(onlyNew.wsUrl, s.accessToken), {
      status: 401,
      code: 'invalid_token',
    });
    assert.equal((await refusedStatus(onlyNew.wsUrl, byNew)).status, 101);
  });

  it("a deleted account's token is refused by the gateway, also after the username is registered again", async () => {
    const user = name('del');
    const first = await register(user);
    const c = await WsClient.connect(gw1.wsUrl, first.accessToken);
    await c.waitFor((f) => f.type === 'hello');
    await ok(api, 'DELETE', API_PATHS.me, {
      token: first.accessToken,
      body: { password: passwords.get(user) },
    });
    // Deletion closes the account's sockets...
    assert.equal((await closedWithin(c)).code, CLOSE_CODES.sessionRevoked);
    const second = await register(user);
    assert.notEqual(uidOf(second.accessToken), uidOf(first.accessToken));
    // ...and its unexpired token opens nothing, though the name exists again.
    assert.deepEqual(await refusedStatus(gw2.wsUrl, first.accessToken), {
      status: 401,
      code: 'invalid_token',
    });
    assert.equal((await refusedStatus(gw2.wsUrl, second.accessToken)).status, 101);
  });

  it('a socket whose token expires is closed with tokenExpired (4401)', async () => {
    const c = await WsClient.connect(gw1.wsUrl, await stack.token(name('exp'), 2));
    const hello = await c.waitFor<HelloFrame>((f) => f.type === 'hello');
    // The expiry is rounded up to whole seconds, so a 2 s token has at most 3 s left.
    assert.ok(hello.tokenExpiresInMs !== undefined && hello.tokenExpiresInMs <= 3000);
    assert.equal((await closedWithin(c)).code, CLOSE_CODES.tokenExpired);
  });

  it('`auth` with a fresh token keeps the socket open past the first token; a foreign token is refused', async () => {
    // Tokens minted as the api does (the stack's key), so their lifetimes do not depend on
    // how long registration takes on a busy machine.
    const user = name('reauth');
    const first = await stack.token(user, 3);
    const c = await WsClient.connect(gw2.wsUrl, first);
    const hello = await c.waitFor<HelloFrame>((f) => f.type === 'hello');
    const firstExpiresAt = Date.now() + (hello.tokenExpiresInMs ?? 0);
    // Another account's token: an error frame, the connection stays as it was.
    c.send({ type: 'auth', token: await stack.token(name('other'), 60) });
    await c.waitFor((f) => f.type === 'error' && f.code === 'invalid_token', 5000, 'refusal');
    c.send({ type: 'auth', token: await stack.token(user, 60) });
    const renewed = await c.waitFor((f) => f.type === 'authenticated', 5000, 'authenticated');
    assert.ok(renewed.type === 'authenticated' && renewed.tokenExpiresInMs > 30_000);
    // Past the first token's expiry the socket still serves.
    await sleep(Math.max(0, firstExpiresAt + 500 - Date.now()));
    assert.ok(await answersPing(c), 'the re-authenticated socket is still open');
    await c.close();
  });

  it('logout closes that session on every gateway; other sessions stay; its token opens nothing', async (t) => {
    const user = name('out');
    const s1 = await register(user);
    const s2 = await login(user);
    const a = await WsClient.connect(gw1.wsUrl, s1.accessToken);
    const b = await WsClient.connect(gw2.wsUrl, s1.accessToken);
    const other = await WsClient.connect(gw2.wsUrl, s2.accessToken);
    for (const c of [a, b, other]) await c.waitFor((f) => f.type === 'hello');
    const loggedOut = Date.now();
    await ok(api, 'POST', API_PATHS.logout, { body: { refreshToken: s1.refreshToken } });
    assert.equal((await closedWithin(a)).code, CLOSE_CODES.sessionRevoked);
    assert.equal((await closedWithin(b)).code, CLOSE_CODES.sessionRevoked);
    // Reported, not asserted: how long the revocation took to close both gateways' sockets.
    t.diagnostic(`logout to both sockets closed: ${Date.now() - loggedOut} ms`);
    assert.ok(await answersPing(other), 'the other session is still connected');
    assert.equal((await refusedStatus(gw1.wsUrl, s1.accessToken)).code, 'invalid_token');
    // The api refuses the ended session's access token too.
    assert.equal((await call(api, 'GET', API_PATHS.me, { token: s1.accessToken })).status, 401);
    await other.close();
  });

  it('password change needs the current password and ends every other session; the session list and revoking one session', async () => {
    const user = name('pw');
    const keep = await register(user);
    const s2 = await login(user);
    const s3 = await login(user);
    const list = await ok<SessionList>(api, 'GET', API_PATHS.mySessions, {
      token: keep.accessToken,
    });
    assert.equal(list.sessions.length, 3);
    assert.equal(list.sessions.filter((x) => x.current).length, 1);
    const current = list.sessions.find((x) => x.current)!;
    assert.ok(Date.parse(current.lastUsedAt) >= Date.parse(current.createdAt));

    // Revoke one session by id: its socket closes, the others stay.
    const c2 = await WsClient.connect(gw1.wsUrl, s2.accessToken);
    const c3 = await WsClient.connect(gw2.wsUrl, s3.accessToken);
    const mine = await WsClient.connect(gw1.wsUrl, keep.accessToken);
    for (const c of [c2, c3, mine]) await c.waitFor((f) => f.type === 'hello');
    const s2id = (
      await ok<SessionList>(api, 'GET', API_PATHS.mySessions, { token: s2.accessToken })
    ).sessions.find((x) => x.current)!.id;
    const revokeOne = API_PATHS.mySession.replace(':id', s2id);
    await ok(api, 'DELETE', revokeOne, { token: keep.accessToken });
    assert.equal((await closedWithin(c2)).code, CLOSE_CODES.sessionRevoked);
    assert.equal((await call(api, 'DELETE', revokeOne, { token: keep.accessToken })).status, 404);

    // A wrong current password changes nothing.
    const wrong = await call(api, 'POST', API_PATHS.myPassword, {
      token: keep.accessToken,
      body: { currentPassword: 'not-it', newPassword: 'a-new-password-1' },
    });
    assert.equal(wrong.status, 401);
    assert.ok(await answersPing(c3));

    await ok(api, 'POST', API_PATHS.myPassword, {
      token: keep.accessToken,
      body: { currentPassword: passwords.get(user), newPassword: 'a-new-password-1' },
    });
    assert.equal((await closedWithin(c3)).code, CLOSE_CODES.sessionRevoked);
    assert.ok(await answersPing(mine), 'the session that changed the password stays');
    const refresh3 = await call(api, 'POST', API_PATHS.refresh, {
      body: { refreshToken: s3.refreshToken },
    });
    assert.equal(refresh3.status, 401);
    const oldPw = await call(api, 'POST', API_PATHS.login, {
      body: { username: user, password: passwords.get(user) },
    });
    assert.equal(oldPw.status, 401);
    await ok(api, 'POST', API_PATHS.login, {
      body: { username: user, password: 'a-new-password-1' },
    });

    // Logout everywhere ends the remaining sessions, this one included.
    await ok(api, 'DELETE', API_PATHS.mySessions, { token: keep.accessToken });
    assert.equal((await closedWithin(mine)).code, CLOSE_CODES.sessionRevoked);
    assert.equal((await call(api, 'GET', API_PATHS.me, { token: keep.accessToken })).status, 401);
  });

  it('refresh-token reuse ends the session and closes its sockets', async () => {
    const user = name('reuse');
    const s = await register(user);
    const c = await WsClient.connect(gw2.wsUrl, s.accessToken);
    await c.waitFor((f) => f.type === 'hello');
    const r2 = await ok<Session>(api, 'POST', API_PATHS.refresh, {
      body: { refreshToken: s.refreshToken },
    });
    await ok<Session>(api, 'POST', API_PATHS.refresh, { body: { refreshToken: r2.refreshToken } });
    // The first token again, after its successor was used: a replay.
    const replay = await call(api, 'POST', API_PATHS.refresh, {
      body: { refreshToken: s.refreshToken },
    });
    assert.equal(replay.status, 401);
    assert.equal((await closedWithin(c)).code, CLOSE_CODES.sessionRevoked);
  });

  it('a retried refresh leaves a tombstone: presenting the replaced token later revokes the family', async () => {
    const user = name('tomb');
    const s = await register(user);
    // The answer of this refresh is "lost": the owner retries with the same token.
    const lost = await ok<Session>(api, 'POST', API_PATHS.refresh, {
      body: { refreshToken: s.refreshToken },
    });
    const retried = await ok<Session>(api, 'POST', API_PATHS.refresh, {
      body: { refreshToken: s.refreshToken },
    });
    // Whoever holds the lost pair presents it: refused, and the whole session ends, so a
    // thief who raced the owner within the grace does not keep the session either.
    const late = await call(api, 'POST', API_PATHS.refresh, {
      body: { refreshToken: lost.refreshToken },
    });
    assert.equal(late.status, 401);
    const after = await call(api, 'POST', API_PATHS.refresh, {
      body: { refreshToken: retried.refreshToken },
    });
    assert.equal(after.status, 401);
    assert.equal((await refusedStatus(gw1.wsUrl, retried.accessToken)).code, 'invalid_token');
  });

  it('browsers connect with a single-use ticket, never the access token in the URL', async () => {
    const user = name('tick');
    const s = await register(user);
    const t = await ok<WsTicket>(api, 'POST', API_PATHS.wsTicket, { token: s.accessToken });
    assert.ok(!t.ticket.includes(s.accessToken));
    const url = (gw: GatewayService, ticket: string) =>
      `${gw.wsUrl}?ticket=${encodeURIComponent(ticket)}`;
    const c = await WsClient.connect(url(gw1, t.ticket), undefined);
    const hello = await c.waitFor<HelloFrame>((f) => f.type === 'hello');
    assert.equal(hello.username, user);
    // Used once: a second upgrade with it, on any gateway, is refused.
    for (const gw of [gw1, gw2]) {
      await assert.rejects(WsClient.connect(url(gw, t.ticket), undefined), (err: unknown) => {
        assert.ok(err instanceof UpgradeRefused);
        assert.equal(err.status, 401);
        return true;
      });
    }
    // An access token is not a ticket, and a ticket is not an access token.
    await assert.rejects(WsClient.connect(url(gw1, s.accessToken), undefined), UpgradeRefused);
    const t2 = await ok<WsTicket>(api, 'POST', API_PATHS.wsTicket, { token: s.accessToken });
    assert.equal((await call(api, 'GET', API_PATHS.me, { token: t2.ticket })).status, 401);
    assert.deepEqual(await refusedStatus(gw2.wsUrl, t2.ticket), {
      status: 401,
      code: 'invalid_token',
    });
    // The ticket's socket belongs to the session: logging out closes it.
    await ok(api, 'POST', API_PATHS.logout, { body: { refreshToken: s.refreshToken } });
    assert.equal((await closedWithin(c)).code, CLOSE_CODES.sessionRevoked);
    assert.equal(
      (await call(api, 'POST', API_PATHS.wsTicket, { token: s.accessToken })).status,
      401,
    );
  });

  it('a session ends at its absolute lifetime however often it is refreshed', async () => {
    const user = name('age');
    const s = await register(user, shortApi);
    await sleep(1500);
    const r = await ok<Session>(shortApi, 'POST', API_PATHS.refresh, {
      body: { refreshToken: s.refreshToken },
    });
    assert.ok(r.refreshExpiresIn <= 4);
    await sleep(3000);
    const late = await call(shortApi, 'POST', API_PATHS.refresh, {
      body: { refreshToken: r.refreshToken },
    });
    assert.equal(late.status, 401);
  });
});
