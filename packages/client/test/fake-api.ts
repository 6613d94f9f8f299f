/**
 * A tiny in-memory stand-in for the api's key directory and sessions, as a `fetch`
 * function, for pure-logic unit tests of the SDK. The integration tests run the real
 * api; this only lets the key-pinning and refresh rules be tested in isolation.
 */
import { fingerprint } from '@gossip/crypto';
import type { KeyChainStep, PublicKeys, Session } from '@gossip/protocol';

interface FakeUser {
  password: string;
  keys: PublicKeys;
  keyVersion: number;
  keyChain: KeyChainStep[];
}

export class FakeApi {
  readonly users = new Map<string, FakeUser>();
  readonly accepted: { from: string; to: string; keyEnvelope?: string }[] = [];
  readonly calls: string[] = [];
  /** Key lookups to answer with another user's keys: asked name -> answered name. */
  readonly answerKeysAs = new Map<string, string>();
  private counter = 0;
  private readonly access = new Map<string, string>();
  private readonly refresh = new Map<string, string>();

  /** Revokes every access token, as if they had all expired. */
  expireAccessTokens(): void {
    this.access.clear();
  }

  /**
   * Replaces a user's published keys behind everyone's back (a key swap), or with a
   * continuity `proof` as the real api would after checking it (this fake does not check:
   * the tests show that the client does).
   */
  setKeys(username: string, keys: PublicKeys, proof: string | null = null): void {
    const u = this.users.get(username);
    if (!u) throw new Error('no such user');
    u.keys = keys;
    u.keyVersion++;
    u.keyChain.push({ keyVersion: u.keyVersion, keys, proof });
  }

  private session(username: string): Session {
    const accessToken = `a${++this.counter}`;
    const refreshToken = `refresh-token-${++this.counter}-xxxxxxxx`;
    this.access.set(accessToken, username);
    this.refresh.set(refreshToken, username);
    return {
      tokenType: 'Bearer',
      accessToken,
      expiresIn: 900,
      refreshToken,
      refreshExpiresIn: 86400,
      user: {
        username,
        displayName: null,
        hasAvatar: false,
        keyVersion: this.users.get(username)?.keyVersion ?? 1,
        createdAt: new Date(0).toISOString(),
      },
    };
  }

  readonly fetch: typeof fetch = async (input, init) => {
    const url = new URL(String(input));
    const method = init?.method ?? 'GET';
    const body = init?.body ? (JSON.parse(String(init.body)) as Record<string, unknown>) : {};
    const auth = new Headers(init?.headers).get('authorization')?.replace(/^Bearer /, '');
    this.calls.push(`${method} ${url.pathname}`);
    const json = (status: number, value: unknown): Response =>
      new Response(JSON.stringify(value), {
        status,
        headers: { 'content-type': 'application/json' },
      });
    const err = (status: number, code: string): Response =>
      json(status, { error: { code, message: code } });
    const p = url.pathname;

    if (method === 'POST' && p === '/v1/auth/register') {
      const username = body.username as string;
      if (this.users.has(username)) return err(409, 'username_taken');
      this.users.set(username, {
        password: body.password as string,
        keys: body.keys as PublicKeys,
        keyVersion: 1,
        keyChain: [],
      });
      return json(201, this.session(username));
    }
    if (method === 'POST' && p === '/v1/auth/login') {
      const u = this.users.get(body.username as string);
      if (!u || u.password !== body.password) return err(401, 'invalid_credentials');
      return json(200, this.session(body.username as string));
    }
    if (method === 'POST' && p === '/v1/auth/refresh') {
      const username = this.refresh.get(body.refreshToken as string);
      if (!username) return err(401, 'invalid_token');
      this.refresh.delete(body.refreshToken as string);
      return json(200, this.session(username));
    }
    if (method === 'POST' && p === '/v1/auth/logout') {
      this.refresh.delete(body.refreshToken as string);
      return new Response(null, { status: 204 });
    }
    const me = auth ? this.access.get(auth) : undefined;
    if (!me) return err(401, auth ? 'token_expired' : 'unauthorized');

    let m = /^\/v1\/users\/([^/]+)\/keys$/.exec(p);
    if (method === 'GET' && m) {
      const asked = decodeURIComponent(m[1] as string);
      const username = this.answerKeysAs.get(asked) ?? asked;
      const u = this.users.get(username);
      if (!u) return err(404, 'user_not_found');
      return json(200, {
        username,
        keys: u.keys,
        keyVersion: u.keyVersion,
        fingerprint: await fingerprint({ username, ...u.keys }),
        updatedAt: new Date(0).toISOString(),
        keyChain: u.keyChain,
      });
    }
    if (method === 'PUT' && p === '/v1/me/keys') {
      if (this.users.get(me)?.password !== body.password) return err(401, 'invalid_credentials');
      this.setKeys(me, body.keys as PublicKeys, (body.proof as string | undefined) ?? null);
      const u = this.users.get(me) as FakeUser;
      return json(200, {
        username: me,
        keys: u.keys,
        keyVersion: u.keyVersion,
        fingerprint: await fingerprint({ username: me, ...u.keys }),
        updatedAt: new Date(0).toISOString(),
      });
    }
    m = /^\/v1\/contacts\/([^/]+)\/accept$/.exec(p);
    if (method === 'POST' && m) {
      this.accepted.push({
        from: me,
        to: decodeURIComponent(m[1] as string),
        keyEnvelope: body.keyEnvelope as string | undefined,
      });
      return json(200, {});
    }
    if (method === 'GET' && p === '/v1/me') return json(200, this.session(me).user);
    return err(404, 'not_found');
  };
}
