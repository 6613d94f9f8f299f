import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, test } from 'node:test';
import { parseGauge, readConnections } from '../../src/autoscaler/readings.js';

const text = [
  '# HELP gossip_gateway_connections Open WebSocket connections.',
  '# TYPE gossip_gateway_connections gauge',
  'gossip_gateway_connections 42',
  'gossip_gateway_connections_opened_total 90',
  '',
].join('\n');

test('parseGauge reads the gauge and ignores metrics sharing its prefix', () => {
  assert.equal(parseGauge(text, 'gossip_gateway_connections'), 42);
  assert.equal(parseGauge(text, 'gossip_gateway_missing'), undefined);
});

test('parseGauge sums labelled series', () => {
  const labelled = 'm{a="1"} 3\nm{a="2"} 4.5\n';
  assert.equal(parseGauge(labelled, 'm'), 7.5);
});

test('readConnections: a pod that fails or lacks the metric is unknown, not zero', async () => {
  const srv = createServer((req, res) => {
    if (req.url === '/ok/metrics') res.end(text);
    else if (req.url === '/empty/metrics') res.end('other_metric 1\n');
    else res.writeHead(500).end();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  after(() => srv.close());
  const base = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
  const readings = await readConnections([
    { name: 'a', url: `${base}/ok/metrics` },
    { name: 'b', url: `${base}/empty/metrics` },
    { name: 'c', url: `${base}/broken/metrics` },
    { name: 'd', url: 'http://127.0.0.1:1/metrics' },
    // A Running pod without an `ops` port (an older gateway image).
    { name: 'e', url: undefined },
  ]);
  assert.deepEqual(readings, [
    { name: 'a', connections: 42 },
    { name: 'b', connections: undefined },
    { name: 'c', connections: undefined },
    { name: 'd', connections: undefined },
    { name: 'e', connections: undefined },
  ]);
});
