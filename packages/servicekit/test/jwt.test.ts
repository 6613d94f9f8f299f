import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { SignJWT } from 'jose';
import { TokenError, signAccessToken, verifyAccessToken } from '../src/index.js';

const secret = new Uint8Array(randomBytes(32));
const who = { username: 'alice', uid: '4a1c1d2e-0000-4000-8000-000000000000' };

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof TokenError);
    return err.code;
  }
}

test('a signed token verifies to its subject', async () => {
  const t = await signAccessToken(who, secret, 60);
  assert.deepEqual(await verifyAccessToken(t, secret), who);
});

test('a token lives at least its TTL, whatever the sub-second clock', async () => {
  const base = 1_700_000_000_000;
  for (const offset of [0, 1, 500, 999]) {
    const t = await signAccessToken(who, secret, 1, base + offset);
    assert.deepEqual(await verifyAccessToken(t, secret, base + offset + 999), who);
    assert.equal(await code(verifyAccessToken(t, secret, base + offset + 2000)), 'token_expired');
  }
});

test('expiry, wrong secret, alg none, wrong audience and wrong typ are refused', async () => {
  const t = await signAccessToken(who, secret, 1, Date.now() - 5000);
  assert.equal(await code(verifyAccessToken(t, secret)), 'token_expired');
  const good = await signAccessToken(who, secret, 60);
  assert.equal(await code(verifyAccessToken(good, new Uint8Array(32))), 'invalid_token');
  const [, payload] = good.split('.');
  const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
  assert.equal(await code(verifyAccessToken(none, secret)), 'invalid_token');
  const otherAud = await new SignJWT({ uid: who.uid, typ: 'access' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('alice')
    .setIssuer('gossip-api')
    .setAudience('someone-else')
    .setExpirationTime('1m')
    .sign(secret);
  assert.equal(await code(verifyAccessToken(otherAud, secret)), 'invalid_token');
  const refreshLike = await new SignJWT({ uid: who.uid, typ: 'refresh' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('alice')
    .setIssuer('gossip-api')
    .setAudience('gossip')
    .setExpirationTime('1m')
    .sign(secret);
  assert.equal(await code(verifyAccessToken(refreshLike, secret)), 'invalid_token');
  assert.equal(await code(verifyAccessToken('garbage', secret)), 'invalid_token');
});
