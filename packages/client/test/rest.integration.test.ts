/**
 * The REST client's remaining calls against the real api process, so every SDK
 * method's path, verb and body shape is proven against the server, not a fake:
 * profile, avatar, search, reject, remove, block, unblock, logout, delete account.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { exportPublicKeys, generateIdentityKeys } from '@gossip/crypto';
import { ApiClient } from '../src/api.js';
import { ApiError, NotLoggedInError } from '../src/errors.js';
import { startApiProcess, type RunningApi } from './api-process.js';

let api: RunningApi;
const suffix = Math.random().toString(36).slice(2, 8);
const names = ['carol', 'carla', 'dan'].map((n) => `${n}_${suffix}`);
const [CAROL, CARLA, DAN] = names as [string, string, string];
const clients = new Map<string, ApiClient>();
const c = (name: string): ApiClient => clients.get(name) as ApiClient;
const isCode = (code: string) => (e: unknown) => e instanceof ApiError && e.code === code;

// The smallest valid PNG: 1x1, one transparent pixel.
const PNG = Uint8Array.from(
  Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
    'base64',
  ),
);

before(async () => {
  api = await startApiProcess();
  const keys = await exportPublicKeys(await generateIdentityKeys());
  for (const name of names) {
    const client = new ApiClient({ baseUrl: api.url });
    await client.register({ username: name, password: `${name} password`, keys });
    clients.set(name, client);
  }
});

after(async () => {
  await api?.stop();
});

test('profile: set and clear the display name; others see it', async () => {
  const me = await c(CAROL).updateProfile({ displayName: 'Carol C.' });
  assert.equal(me.displayName, 'Carol C.');
  assert.equal((await c(DAN).getProfile(CAROL)).displayName, 'Carol C.');
  await c(CAROL).updateProfile({ displayName: null });
  assert.equal((await c(DAN).getProfile(CAROL)).displayName, null);
});

test('avatar: upload a PNG, fetch the same bytes, refuse a lie about the type, delete', async () => {
  const me = await c(CAROL).uploadAvatar(PNG, 'image/png');
  assert.equal(me.hasAvatar, true);
  const got = await c(DAN).getAvatar(CAROL);
  assert.equal(got.contentType, 'image/png');
  assert.deepEqual(got.data, PNG);
  await assert.rejects(c(CAROL).uploadAvatar(PNG, 'image/jpeg'), isCode('invalid_image'));
  assert.equal((await c(CAROL).deleteAvatar()).hasAvatar, false);
  await assert.rejects(c(DAN).getAvatar(CAROL), isCode('avatar_not_found'));
});

test('search by prefix, paged', async () => {
  const first = await c(DAN).search({ prefix: 'car', limit: 50 });
  const found = first.users.map((u) => u.username);
  assert.ok(found.includes(CAROL) && found.includes(CARLA), JSON.stringify(found));
  const page = await c(DAN).search({ prefix: `car`, limit: 1 });
  assert.equal(page.users.length, 1);
  assert.ok(page.next);
  const nextPage = await c(DAN).search({ prefix: 'car', limit: 1, after: page.next });
  assert.notEqual(nextPage.users[0]?.username, page.users[0]?.username);
});

test('contacts: request and reject; request, accept and remove', async () => {
  await c(DAN).requestContact(CAROL);
  await assert.rejects(c(DAN).requestContact(CAROL), isCode('contact_exists'));
  await c(CAROL).rejectContact(DAN);
  assert.equal(
    (await c(DAN).listContacts()).contacts.find((x) => x.username === CAROL),
    undefined,
  );
  await c(DAN).requestContact(CAROL);
  await c(CAROL).acceptContact(DAN);
  assert.equal(
    (await c(DAN).listContacts()).contacts.find((x) => x.username === CAROL)?.state,
    'accepted',
  );
  await c(DAN).removeContact(CAROL);
  assert.equal(
    (await c(CAROL).listContacts()).contacts.find((x) => x.username === DAN),
    undefined,
  );
});

test('a block silently holds back requests from the blocked user until unblocked', async () => {
  await c(CARLA).blockContact(DAN);
  // Dan cannot tell: his request looks pending, but Carla never gets it.
  await c(DAN).requestContact(CARLA);
  const mine = (await c(CARLA).listContacts()).contacts.find((x) => x.username === DAN);
  assert.equal(mine?.blocked, true);
  assert.equal(mine?.state, 'none');
  await c(CARLA).unblockContact(DAN);
  await c(DAN).requestContact(CARLA);
  const after = (await c(CARLA).listContacts()).contacts.find((x) => x.username === DAN);
  assert.equal(after?.state, 'incoming');
});

test('logout revokes the refresh token; delete account needs the password', async () => {
  const other = new ApiClient({ baseUrl: api.url });
  await other.login({ username: DAN, password: `${DAN} password` });
  const spent = other.currentSession?.refreshToken as string;
  await other.logout();
  assert.equal(other.currentSession, null);
  await assert.rejects(other.me(), NotLoggedInError);
  const replay = new ApiClient({
    baseUrl: api.url,
    session: {
      username: DAN,
      accessToken: 'x',
      accessExpiresAt: 0,
      refreshToken: spent,
      refreshExpiresAt: 0,
    },
  });
  await assert.rejects(replay.refresh(), NotLoggedInError);

  await assert.rejects(c(DAN).deleteAccount('wrong password'), isCode('invalid_credentials'));
  await c(DAN).deleteAccount(`${DAN} password`);
  await assert.rejects(c(CAROL).getProfile(DAN), isCode('user_not_found'));
});
