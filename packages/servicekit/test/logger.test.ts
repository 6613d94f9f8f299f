import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger, redactUrl } from '../src/index.js';

function capture(): {
  stream: Writable;
  lines: () => Record<string, unknown>[];
  text: () => string;
} {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString('utf8');
      cb();
    },
  });
  return {
    stream,
    text: () => text,
    lines: () =>
      text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

test('the logger redacts secrets by field name at any of the first levels', () => {
  const out = capture();
  const log = createLogger({ name: 'test', destination: out.stream });
  log.info(
    {
      password: 'pw-top-secret',
      body: { refreshToken: 'rt-secret', keys: { privateKey: 'pk-secret' } },
      req: { headers: { authorization: 'Bearer abc.def' } },
      user: 'alice',
    },
    'hello',
  );
  log.child({ component: 'c' }).warn({ token: 'tok-secret' }, 'child');
  const text = out.text();
  for (const secret of ['pw-top-secret', 'rt-secret', 'pk-secret', 'abc.def', 'tok-secret']) {
    assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
  }
  const [first, second] = out.lines();
  assert.equal(first?.service, 'test');
  assert.equal(first?.user, 'alice');
  assert.equal(first?.password, '[redacted]');
  assert.equal(second?.component, 'c');
});

test('the request serializer logs method and a URL without token values', () => {
  const out = capture();
  const log = createLogger({ name: 'test', destination: out.stream });
  log.info({ req: { method: 'GET', url: '/ws?access_token=abc&v=1', headers: { cookie: 'c' } } });
  const [line] = out.lines();
  assert.deepEqual(line?.req, { method: 'GET', url: '/ws?access_token=[redacted]&v=1' });
});

test('redactUrl keeps harmless parameters', () => {
  assert.equal(redactUrl('/a'), '/a');
  assert.equal(redactUrl('/a?prefix=al&limit=2'), '/a?prefix=al&limit=2');
  assert.equal(redactUrl('/ws?ticket=eyJ.x.y'), '/ws?ticket=[redacted]');
  assert.equal(
    redactUrl('/a?token=x&password=y&flag'),
    '/a?token=[redacted]&password=[redacted]&flag',
  );
});

test('redactUrl never throws on bad percent-escapes and redacts names it cannot decode', () => {
  // `GET /v1/users?%=1` once killed the api: decodeURIComponent('%') throws a URIError.
  assert.equal(redactUrl('/v1/users?%=1'), '/v1/users?%=[redacted]');
  // A name that cannot be decoded may hide a secret name (`%74oken` is `token`).
  assert.equal(redactUrl('/a?%74oken%zz=s3cret&b=1'), '/a?%74oken%zz=[redacted]&b=1');
  // Invalid UTF-8 (a lone continuation byte) is as undecodable as a bad escape.
  assert.equal(redactUrl('/a?%C3%28=x'), '/a?%C3%28=[redacted]');
  // Decodable escapes are still read: `%74oken` is a token.
  assert.equal(redactUrl('/a?%74oken=abc'), '/a?%74oken=[redacted]');
});

test('the request serializer never throws, whatever the request looks like', () => {
  const out = capture();
  const log = createLogger({ name: 'test', destination: out.stream });
  const hostile = [
    { method: 'GET', url: '/v1/users?%=1' },
    { method: 'GET', url: '/%E0%A4%A?%ff%fe=%' },
    // A getter that throws stands for any object whose fields cannot be read.
    Object.defineProperty({ method: 'GET' }, 'url', {
      get() {
        throw new Error('unreadable');
      },
    }),
  ];
  for (const req of hostile) assert.doesNotThrow(() => log.info({ req }, 'request'));
  const lines = out.lines();
  assert.equal(lines.length, hostile.length);
  assert.deepEqual(lines[0]?.req, { method: 'GET', url: '/v1/users?%=[redacted]' });
  assert.equal((lines[2]?.req as Record<string, unknown>).unserializable, true);
});
