/**
 * Watches that die must come back. The operator talks to the API server through a TCP
 * proxy owned by the test; the test cuts every connection (and refuses new ones for a
 * while, like an API server restart), then changes things and proves the operator saw
 * them: it re-listed and re-watched instead of going silent or exiting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { applyCluster, apps, env, testOperator, waitFor } from './kube-helpers.js';

/** A TCP proxy to the API server that the test can cut. */
class CuttableProxy {
  private readonly sockets = new Set<Socket>();
  private refusing = false;
  private server: Server | undefined;
  port = 0;
  cuts = 0;

  constructor(private readonly target: URL) {}

  async start(): Promise<void> {
    this.server = createServer((client) => {
      if (this.refusing) {
        client.destroy();
        return;
      }
      const upstream = createConnection(Number(this.target.port), this.target.hostname);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** Resets every open connection; refuses new ones for `outageMs`. */
  async cut(outageMs: number): Promise<number> {
    const n = this.sockets.size;
    this.refusing = true;
    for (const s of this.sockets) s.resetAndDestroy();
    this.cuts++;
    await sleep(outageMs);
    this.refusing = false;
    return n;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server?.close(r));
  }
}

const proxy = new CuttableProxy(new URL(env.kubeApiUrl));
let kubeconfig = '';
const { ns, operator } = testOperator('op-watch', {
  identity: 'watch-test',
  kubeconfig: () => kubeconfig,
  setUp: async (namespace) => {
    await proxy.start();
    const dir = join(env.dir, 'scratch', namespace);
    mkdirSync(dir, { recursive: true });
    kubeconfig = join(dir, 'proxied.kubeconfig');
    const original = readFileSync(env.kubeconfig, 'utf8');
    writeFileSync(kubeconfig, original.replace(env.kubeApiUrl, `https://127.0.0.1:${proxy.port}`), {
      mode: 0o600,
    });
    assert.ok(readFileSync(kubeconfig, 'utf8').includes(`127.0.0.1:${proxy.port}`));
  },
  tearDown: () => proxy.stop(),
});

const replicas = async (name: string) =>
  (await apps.readNamespacedDeployment({ name, namespace: ns })).spec?.replicas;

test('after every API connection is reset, the operator re-watches and reconciles new changes', async () => {
  await applyCluster(ns, 'chat', { api: { replicas: 1 } });
  await waitFor('chat-api to be created', async () => (await replicas('chat-api')) === 1);
  await sleep(1000); // let the watches settle on their streams

  const open = await proxy.cut(3000);
  assert.ok(open >= 8, `expected the informers' watch connections to be cut, saw ${open}`);
  const t0 = Date.now();
  await applyCluster(ns, 'chat', { api: { replicas: 2 } });
  await waitFor(
    'the spec change made after the cut to be reconciled',
    async () => {
      return (await replicas('chat-api')) === 2;
    },
    60_000,
  );
  const spec = Date.now() - t0;

  // Owned-kind watches recovered too: deleting a child is noticed and repaired.
  await apps.deleteNamespacedDeployment({ name: 'chat-engine', namespace: ns });
  await waitFor('chat-engine to be re-created', async () => (await replicas('chat-engine')) === 1);

  // And a second cut without an outage (a plain ECONNRESET on every stream).
  await proxy.cut(0);
  await applyCluster(ns, 'chat', { api: { replicas: 3 } });
  await waitFor(
    'a change after the second cut',
    async () => (await replicas('chat-api')) === 3,
    60_000,
  );

  const log = operator().proc.output();
  assert.match(log, /watch failed; re-listing after backoff|list failed/, 'the cut was seen');
  assert.equal(operator().proc.child.exitCode, null, 'the operator is still running');
  console.log(`# reconciled a change made during a 3 s API outage ${spec} ms after the cut`);
});
