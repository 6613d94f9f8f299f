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
  assert.equal(
    redactUrl('/a?token=x&password=y&flag'),
    '/a?token=[redacted]&password=[redacted]&flag',
  );
});
