import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { SignJWT } from 'jose';
import {
  TokenError,
  generateSigningJwk,
  parseSigningKeys,
  parseVerificationKeys,
  publicKeySet,
  signAccessToken,
  signWsTicket,
  verifyAccessToken,
  verifyWsTicket,
} from '../src/index.js';

const who = { username: 'alice', uid: '4a1c1d2e-0000-4000-8000-000000000000', sid: 'sess-1' };
const oldKey = generateSigningJwk('2026-01');
const newKey = generateSigningJwk('2026-02');
const api = parseSigningKeys(JSON.stringify({ keys: [oldKey] }));
const gatewayKeys = parseVerificationKeys(JSON.stringify(publicKeySet({ keys: [oldKey] })));

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof TokenError);
    return err.code;
  }
}

test('a signed token carries its kid and verifies with the public set alone', async () => {
  const t = await signAccessToken(who, api.signing, 60);
  const header = JSON.parse(Buffer.from(t.split('.')[0]!, 'base64url').toString()) as {
    alg: string;
    kid: string;
  };
  assert.deepEqual([header.alg, header.kid], ['EdDSA', '2026-01']);
  const v = await verifyAccessToken(t, gatewayKeys);
  assert.deepEqual({ username: v.username, uid: v.uid, sid: v.sid }, who);
  assert.equal(typeof v.exp, 'number');
  // The public set handed to verifiers holds no private material.
  assert.ok(!JSON.stringify(api.publicSet).includes(oldKey.d));
});

test('rotation: two keys are valid at once, and a removed key is refused', async () => {
  // The api signs with the new key first; the old one stays in both sets for a token TTL.
  const rotating = parseSigningKeys(JSON.stringify({ keys: [newKey, oldKey] }));
  const both = parseVerificationKeys(JSON.stringify(publicKeySet({ keys: [newKey, oldKey] })));
  const byOld = await signAccessToken(who, api.signing, 60);
  const byNew = await signAccessToken(who, rotating.signing, 60);
  assert.equal(rotating.signing.kid, '2026-02');
  assert.equal(await code(verifyAccessToken(byOld, both)), 'ok');
  assert.equal(await code(verifyAccessToken(byNew, both)), 'ok');
  assert.equal(await code(verifyAccessToken(byOld, rotating.verification)), 'ok');
  // The old key dropped after the TTL: its tokens no longer verify.
  const onlyNew = parseVerificationKeys(JSON.stringify(publicKeySet({ keys: [newKey] })));
  assert.equal(await code(verifyAccessToken(byNew, onlyNew)), 'ok');
  assert.equal(await code(verifyAccessToken(byOld, onlyNew)), 'invalid_token');
});

test('a token lives at least its TTL, whatever the sub-second clock', async () => {
  const base = 1_700_000_000_000;
  for (const offset of [0, 1, 500, 999]) {
    const t = await signAccessToken(who, api.signing, 1, base + offset);
    assert.equal(await code(verifyAccessToken(t, gatewayKeys, base + offset + 999)), 'ok');
    assert.equal(
      await code(verifyAccessToken(t, gatewayKeys, base + offset + 2000)),
      'token_expired',
    );
  }
});

test('expiry, unknown key, HS256, alg none, wrong audience, typ and missing sid are refused', async () => {
  const t = await signAccessToken(who, api.signing, 1, Date.now() - 5000);
  assert.equal(await code(verifyAccessToken(t, gatewayKeys)), 'token_expired');
  const stranger = parseSigningKeys(JSON.stringify({ keys: [generateSigningJwk('2026-01')] }));
  const forged = await signAccessToken(who, stranger.signing, 60);
  assert.equal(await code(verifyAccessToken(forged, gatewayKeys)), 'invalid_token');
  const good = await signAccessToken(who, api.signing, 60);
  const [, payload] = good.split('.');
  const none = `${Buffer.from('{"alg":"none","kid":"2026-01"}').toString('base64url')}.${payload}.`;
  assert.equal(await code(verifyAccessToken(none, gatewayKeys)), 'invalid_token');
  const claims = (extra: Record<string, unknown>) =>
    new SignJWT({ uid: who.uid, sid: who.sid, typ: 'access', ...extra })
      .setSubject('alice')
      .setIssuer('gossip-api')
      .setExpirationTime('1m');
  // HS256 under the public key's bytes (the classic algorithm-confusion forgery).
  const hs = await claims({})
    .setProtectedHeader({ alg: 'HS256', kid: '2026-01' })
    .setAudience('gossip')
    .sign(new Uint8Array(Buffer.from(oldKey.x, 'base64url')));
  assert.equal(await code(verifyAccessToken(hs, gatewayKeys)), 'invalid_token');
  const signWith = (b: SignJWT) =>
    b.setProtectedHeader({ alg: 'EdDSA', kid: '2026-01' }).sign(api.signing.key);
  assert.equal(
    await code(verifyAccessToken(await signWith(claims({}).setAudience('x')), gatewayKeys)),
    'invalid_token',
  );
  assert.equal(
    await code(
      verifyAccessToken(
        await signWith(claims({ typ: 'refresh' }).setAudience('gossip')),
        gatewayKeys,
      ),
    ),
    'invalid_token',
  );
  assert.equal(
    await code(
      verifyAccessToken(
        await signWith(claims({ sid: undefined }).setAudience('gossip')),
        gatewayKeys,
      ),
    ),
    'invalid_token',
  );
  assert.equal(await code(verifyAccessToken('garbage', gatewayKeys)), 'invalid_token');
});

test('key sets are checked: JSON, Ed25519, kids, private vs public', () => {
  const bad = [
    'not json',
    '{"keys":[]}',
    JSON.stringify({ keys: [{ ...oldKey, crv: 'X25519' }] }),
    JSON.stringify({ keys: [oldKey, { ...newKey, kid: oldKey.kid }] }),
    JSON.stringify({ keys: [{ ...oldKey, x: newKey.x }] }),
  ];
  for (const text of bad) assert.throws(() => parseSigningKeys(text));
  assert.throws(
    () => parseSigningKeys(JSON.stringify(publicKeySet({ keys: [oldKey] }))),
    /not a private key/,
  );
  assert.throws(
    () => parseVerificationKeys(JSON.stringify({ keys: [oldKey] })),
    /public keys only/,
  );
  // Errors never echo key material.
  try {
    parseVerificationKeys(JSON.stringify({ keys: [oldKey] }));
  } catch (err) {
    assert.ok(!(err as Error).message.includes(oldKey.d));
  }
});

test('a seed gives the same key every time', () => {
  const seed = randomBytes(32);
  assert.deepEqual(generateSigningJwk('a', seed), generateSigningJwk('a', seed));
  assert.notEqual(generateSigningJwk('a').d, generateSigningJwk('a').d);
});

test("a WebSocket ticket carries its access token's expiry; tickets and tokens never stand in for each other", async () => {
  const exp = Math.floor(Date.now() / 1000) + 600;
  const ticket = await signWsTicket({ ...who, exp }, 'jti-1', api.signing, 30);
  assert.deepEqual(await verifyWsTicket(ticket, gatewayKeys), { ...who, exp, jti: 'jti-1' });
  assert.equal(await code(verifyAccessToken(ticket, gatewayKeys)), 'invalid_token');
  const token = await signAccessToken(who, api.signing, 60);
  assert.equal(await code(verifyWsTicket(token, gatewayKeys)), 'invalid_token');
  // Past its own 30 s, or past the access token it was issued for, it is refused.
  assert.equal(
    await code(verifyWsTicket(ticket, gatewayKeys, Date.now() + 60_000)),
    'token_expired',
  );
  const late = await signWsTicket(
    { ...who, exp: Math.floor(Date.now() / 1000) - 1 },
    'j',
    api.signing,
    30,
  );
  assert.equal(await code(verifyWsTicket(late, gatewayKeys)), 'token_expired');
});
