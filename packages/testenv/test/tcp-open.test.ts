/**
 * `testenv status` probes every server at its URL's host: with a node the apiserver listens
 * on the host's address, not on loopback, and a probe of 127.0.0.1 called it NOT REACHABLE
 * (status exited 1, and test-cluster.mjs then took the shared node for one of its own).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { tcpOpen } from '../src/servers.js';

test('tcpOpen connects to the host it is given, loopback 127.0.0.1 only by default', async () => {
  // Another loopback address stands for the host's own (Linux routes all of 127/8 to lo).
  const server = createServer((s) => s.destroy());
  await new Promise<void>((res) => server.listen(0, '127.0.0.2', res));
  const port = (server.address() as { port: number }).port;
  try {
    assert.equal(await tcpOpen(port, '127.0.0.2'), true);
    assert.equal(await tcpOpen(port), false);
  } finally {
    await new Promise((res) => server.close(res));
  }
});
