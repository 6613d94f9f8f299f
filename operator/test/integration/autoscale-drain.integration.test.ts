/**
 * Gateway scale-down with traffic flowing loses nothing. The operator (a real process)
 * lowers the gateway Deployment; the test then does what the kubelet would do for the
 * removed pod: deletes its Pod and sends its gateway process SIGTERM. The gateway drains
 * (a `drain` frame, then closes), the clients reconnect to the remaining gateway, and
 * every accepted message reaches the recipient exactly once, counted.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Stack } from '../../../services/gateway/test/support/stack.js';
import { streamWithFault } from '../../../services/gateway/test/support/stream.js';
import { WsClient } from '../../../services/gateway/test/support/wsclient.js';
import {
  applyCluster,
  core,
  gatewayReplicas,
  registerGatewayPod,
  testOperator,
  waitFor,
} from './kube-helpers.js';

const name = 'chat';
const stack = new Stack('autoscale-drain');
const GATEWAY_ENV = {
  GATEWAY_RATE_PER_SECOND: '2000',
  GATEWAY_RATE_BURST: '2000',
  GATEWAY_DRAIN_GRACE_MS: '2000',
  GATEWAY_DRAIN_RECONNECT_MS: '200',
};
const { ns } = testOperator('op-drain', {
  identity: 'drain-test',
  env: { OPERATOR_AUTOSCALE_INTERVAL_SECONDS: '1' },
  setUp: async () => {
    await stack.createUsers('alice', 'bob');
    await stack.makeContacts('alice', 'bob');
    await stack.startEngine({ ENGINE_REDELIVERY_SECONDS: '3', ENGINE_SCAN_INTERVAL_MS: '250' });
  },
  tearDown: () => stack.close(),
});

test('scale-down with messages flowing: the removed gateway drains, zero accepted messages lost', async () => {
  const gwA = await stack.startGateway(GATEWAY_ENV);
  const gwB = await stack.startGateway(GATEWAY_ENV);
  await applyCluster(ns, name, {
    gateway: {
      minReplicas: 1,
      maxReplicas: 3,
      targetConnectionsPerPod: 10,
      scaleDownStabilizationSeconds: 4,
    },
  });
  await waitFor(
    'the gateway Deployment at minReplicas',
    async () => (await gatewayReplicas(ns, name)) === 1,
  );
  await registerGatewayPod(ns, name, 'gateway-a', gwA);
  await registerGatewayPod(ns, name, 'gateway-b', gwB);

  // Load that needs 3 gateways, on A; the chat itself runs on B, the one to be removed.
  const idle: WsClient[] = [];
  for (let i = 0; i < 25; i++) {
    idle.push(await WsClient.connect(gwA.wsUrl, await stack.token(`idle${i}`)));
  }
  await waitFor(
    'replicas raised to 3',
    async () => (await gatewayReplicas(ns, name)) === 3,
    60_000,
  );

  const live = [gwB.wsUrl, gwA.wsUrl];
  let drainedExit: number | string | undefined;
  let reconnects = 0;
  const r = await streamWithFault({
    stack,
    senderUrls: () => live,
    count: 400,
    intervalMs: 25,
    fault: async ({ sender, recipient }) => {
      for (const s of idle) s.ws.close();
      await waitFor(
        'the operator to scale down to 1',
        async () => (await gatewayReplicas(ns, name)) === 1,
        60_000,
      );
      // The kubelet's part for the removed pod: the Pod goes, its process gets SIGTERM.
      await core.deleteNamespacedPod({ name: 'gateway-b', namespace: ns });
      live.splice(live.indexOf(gwB.wsUrl), 1);
      const before = sender.connects + recipient.connects;
      drainedExit = await gwB.proc.stop(30_000);
      await waitFor('both clients to reconnect', async () => {
        reconnects = sender.connects + recipient.connects - before;
        return reconnects >= 2 && sender.client !== undefined && recipient.client !== undefined;
      });
    },
  });
  assert.equal(r.sent, 400);
  assert.equal(r.accepted, 400, 'every send was accepted');
  assert.equal(r.shown, 400, 'every accepted message shown exactly once');
  assert.equal(drainedExit, 0, 'the removed gateway drained and exited cleanly');
  assert.ok(reconnects >= 2, 'both clients moved to the remaining gateway');
  assert.match(gwB.proc.output(), /drain/i, 'the removed gateway logged its drain');
  console.log('scale-down under traffic:', { ...r, reconnects });
});
