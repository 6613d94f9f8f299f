import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { test } from 'node:test';
import { freePort } from '../src/servers.js';

const ephemeralLow = Number(
  readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0],
);

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });
}

test('freePort hands out distinct ports below the ephemeral range and outside NodePorts', async () => {
  const ports: number[] = [];
  for (let i = 0; i < 300; i++) ports.push(await freePort());
  assert.equal(new Set(ports).size, ports.length, 'a port was handed out twice');
  for (const port of ports) {
    assert.ok(port < ephemeralLow, `${port} is in the ephemeral range (from ${ephemeralLow})`);
    assert.ok(port < 30000 || port > 32767, `${port} is in the NodePort range`);
    assert.ok(port > 10259, `${port} is among the well-known and Kubernetes ports`);
  }
});

test('a port freePort handed out can be listened on at once', async () => {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < 20; i++) servers.push(await listen(await freePort()));
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
  assert.equal(servers.length, 20);
});

test('freePort never hands out a port something already listens on', async () => {
  // Hold 500 ports of the window open; none of the next 300 picks may be one of them.
  const held: Server[] = [];
  const heldPorts = new Set<number>();
  try {
    for (let port = 20000; held.length < 500 && port < 29999; port += 7) {
      try {
        held.push(await listen(port));
        heldPorts.add(port);
      } catch {
        // taken by something else: also must not be handed out, but not ours to count
      }
    }
    for (let i = 0; i < 300; i++) {
      const port = await freePort();
      assert.ok(!heldPorts.has(port), `freePort handed out ${port}, which is listened on`);
    }
  } finally {
    await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
  }
});
