import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiClient } from '../src/api.js';
import { InsecureTransportError } from '../src/errors.js';
import { checkTransportUrl, isLoopbackHost } from '../src/transport-security.js';
import { GatewayConnection } from '../src/ws/connection.js';

const token = { accessToken: async () => 'token' };

test('loopback is localhost, 127.0.0.0/8 and ::1, by the URL alone (nothing resolved)', () => {
  for (const url of [
    'http://localhost:8080',
    'http://LOCALHOST.',
    'http://app.localhost',
    'http://127.0.0.1:8080',
    'http://127.255.3.4',
    'ws://[::1]:8081/ws',
    'ws://[::ffff:127.0.0.1]/ws',
  ]) {
    assert.equal(isLoopbackHost(new URL(url).hostname), true, url);
  }
  for (const url of [
    'http://10.0.0.5',
    'http://128.0.0.1',
    'http://127.0.0.1.evil.example',
    'http://localhost.evil.example',
    'http://[::2]',
    'http://chat.example',
    'http://0.0.0.0',
  ]) {
    assert.equal(isLoopbackHost(new URL(url).hostname), false, url);
  }
});

test('plain http:// and ws:// beyond loopback are refused unless allowed; TLS always passes', () => {
  assert.throws(() => checkTransportUrl('http://chat.example:8080'), InsecureTransportError);
  assert.throws(() => checkTransportUrl('ws://10.1.2.3:8081/ws'), InsecureTransportError);
  assert.throws(
    () => checkTransportUrl('http://chat.example'),
    (e: unknown) =>
      e instanceof InsecureTransportError &&
      /refusing plain http:\/\/chat\.example/.test(e.message) &&
      /allowInsecure/.test(e.message),
  );
  checkTransportUrl('http://chat.example', true);
  checkTransportUrl('ws://10.1.2.3/ws', true);
  checkTransportUrl('https://chat.example');
  checkTransportUrl('wss://chat.example/ws');
  checkTransportUrl('http://127.0.0.1:8080');
  assert.throws(() => checkTransportUrl('ftp://chat.example'), TypeError);
  assert.throws(() => checkTransportUrl('not a url'), TypeError);
});

test('ApiClient and GatewayConnection refuse a plain non-loopback URL at construction', () => {
  assert.throws(() => new ApiClient({ baseUrl: 'http://chat.example' }), InsecureTransportError);
  assert.equal(
    new ApiClient({ baseUrl: 'http://chat.example', allowInsecure: true }).allowInsecure,
    true,
  );
  new ApiClient({ baseUrl: 'http://127.0.0.1:8080' });
  assert.throws(
    () => new GatewayConnection({ url: ['wss://a.example/ws', 'ws://b.example/ws'], token }),
    InsecureTransportError,
  );
  new GatewayConnection({ url: 'ws://b.example/ws', token, allowInsecure: true });
  new GatewayConnection({ url: 'ws://127.0.0.1:8081/ws', token });
});
