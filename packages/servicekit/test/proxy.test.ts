import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { clientAddress, parseTrustProxy, trustFunction } from '../src/proxy.js';

const req = (remoteAddress: string, xff?: string) =>
  ({
    socket: { remoteAddress },
    headers: xff === undefined ? {} : { 'x-forwarded-for': xff },
  }) as unknown as IncomingMessage;

test('parseTrustProxy: none, a hop count or a list of IPs and CIDRs; never "trust everyone"', () => {
  assert.equal(parseTrustProxy(''), 0);
  assert.equal(parseTrustProxy('false'), 0);
  assert.equal(parseTrustProxy('2'), 2);
  assert.deepEqual(parseTrustProxy('10.0.0.0/8, fd00::/8,192.0.2.1'), [
    '10.0.0.0/8',
    'fd00::/8',
    '192.0.2.1',
  ]);
  assert.throws(() => parseTrustProxy('true'), /hop count/);
  assert.throws(() => parseTrustProxy('10.0.0.0/99'), /CIDR/);
  assert.throws(() => parseTrustProxy('not-an-ip'), /CIDR/);
  assert.throws(() => parseTrustProxy('33'), /32/);
});

test('clientAddress: without trust the socket peer, whatever X-Forwarded-For says', () => {
  assert.equal(clientAddress(req('203.0.113.9', '198.51.100.1'), trustFunction(0)), '203.0.113.9');
});

test('clientAddress: a hop count takes that many addresses from the right', () => {
  const r = req('10.0.0.2', '198.51.100.1, 203.0.113.7');
  assert.equal(clientAddress(r, trustFunction(1)), '203.0.113.7');
  assert.equal(clientAddress(r, trustFunction(2)), '198.51.100.1');
});

test('clientAddress: a CIDR list trusts only those peers, so others cannot spoof', () => {
  const trust = trustFunction(parseTrustProxy('10.0.0.0/8'));
  assert.equal(clientAddress(req('10.1.2.3', '198.51.100.1, 203.0.113.7'), trust), '203.0.113.7');
  assert.equal(clientAddress(req('10.1.2.3', '203.0.113.7, 10.9.9.9'), trust), '203.0.113.7');
  assert.equal(clientAddress(req('198.51.100.50', '203.0.113.7'), trust), '198.51.100.50');
});
