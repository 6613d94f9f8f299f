/**
 * The gateway autoscaler end to end: the operator as a real process on the real
 * control plane, real gateway processes outside Kubernetes registered as Pod objects
 * (labels of the cluster's gateway, pod IP 127.0.0.1 and the process's public and ops
 * ports, set through the status subresource as a kubelet would), real WebSocket
 * connections. The autoscaler reads the gateways' `/metrics` on their ops port (the
 * public port answers 404 there), found by its name.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Stack, type GatewayService } from '../../../services/gateway/test/support/stack.js';
import { WsClient } from '../../../services/gateway/test/support/wsclient.js';
import {
  applyCluster,
  core,
  gatewayReplicas,
  getCluster,
  registerGatewayPod,
  testOperator,
  waitFor,
} from './kube-helpers.js';

const name = 'chat';
const WINDOW_SECONDS = 20;
const stack = new Stack('autoscale');
const gateways: GatewayService[] = [];
const sockets: WsClient[] = [];
const { ns, operator } = testOperator('op-autoscale', {
  identity: 'autoscale-test',
  env: { OPERATOR_AUTOSCALE_INTERVAL_SECONDS: '1' },
  setUp: async () => {
    gateways.push(await stack.startGateway(), await stack.startGateway());
  },
  tearDown: async () => {
    for (const s of sockets) s.ws.terminate();
    await stack.close();
  },
});

test('connections raise the gateway replicas to ceil(total / target); closing them lowers it only after the window', async () => {
  await applyCluster(ns, name, {
    gateway: {
      minReplicas: 1,
      maxReplicas: 6,
      targetConnectionsPerPod: 10,
      scaleDownStabilizationSeconds: WINDOW_SECONDS,
    },
  });
  await waitFor(
    'the gateway Deployment at minReplicas',
    async () => (await gatewayReplicas(ns, name)) === 1,
  );
  // 35 connections over two gateways: ceil(35 / 10) = 4 (a step of +3 is within +4). The
  // pods are registered only once all are open, so the autoscaler sees them in one reading.
  for (let i = 0; i < 35; i++) {
    const gw = gateways[i % 2]!;
    sockets.push(await WsClient.connect(gw.wsUrl, await stack.token(`user${i}`)));
  }
  await registerGatewayPod(ns, name, 'gateway-a', gateways[0]!);
  await registerGatewayPod(ns, name, 'gateway-b', gateways[1]!);
  await waitFor(
    'replicas raised to 4',
    async () => (await gatewayReplicas(ns, name)) === 4,
    60_000,
  );
  const status = (await getCluster(ns, name)) as {
    status?: {
      autoscaler?: {
        desiredReplicas?: number;
        connections?: number;
        lastScaleReason?: string;
        lastScaleTime?: string;
      };
    };
  };
  assert.equal(status.status?.autoscaler?.desiredReplicas, 4);
  assert.equal(status.status?.autoscaler?.connections, 35);
  assert.match(status.status?.autoscaler?.lastScaleReason ?? '', /^ScaleUp/);
  assert.ok(status.status?.autoscaler?.lastScaleTime);
  // Events are written after the scale decision, so they may land a moment later.
  await waitFor('a GatewaysScaledUp event recording 1 -> 4', async () => {
    const events = await core.listNamespacedEvent({ namespace: ns });
    return events.items.some(
      (e) => e.reason === 'GatewaysScaledUp' && /1 -> 4/.test(e.message ?? ''),
    );
  });
  const metrics = await operator().metrics();
  assert.match(
    metrics,
    /gossip_operator_gateway_desired_replicas\{namespace="[^"]+",cluster="chat"\} 4/,
  );
  assert.match(metrics, /gossip_operator_scaling_decisions_total\{[^}]*direction="up"[^}]*\} 1/);

  // Close every connection: the recommendation drops to 1 at once, the replicas must not.
  for (const s of sockets.splice(0)) s.ws.close();
  const closedAt = Date.now();
  await waitFor('the autoscaler to see 0 connections', async () => {
    const c = (await getCluster(ns, name)) as {
      status?: { autoscaler?: { connections?: number } };
    };
    return c.status?.autoscaler?.connections === 0;
  });
  await sleep((WINDOW_SECONDS / 2) * 1000);
  assert.equal(
    await gatewayReplicas(ns, name),
    4,
    'still 4 halfway through the stabilization window',
  );
  await waitFor(
    'replicas lowered after the window',
    async () => (await gatewayReplicas(ns, name)) === 1,
    60_000,
  );
  // The window runs from the last tick that still saw 35 connections, which can be up to
  // one autoscaler interval (1 s) before the sockets were closed.
  assert.ok(
    Date.now() - closedAt >= (WINDOW_SECONDS - 2) * 1000,
    `the scale-down came no earlier than the stabilization window (after ${Date.now() - closedAt} ms)`,
  );
  await waitFor('a GatewaysScaledDown event', async () => {
    const down = await core.listNamespacedEvent({ namespace: ns });
    return down.items.some((e) => e.reason === 'GatewaysScaledDown');
  });
});

test('a gateway whose metrics cannot be read is unknown, not zero: it holds back a scale-down', async () => {
  for (let i = 0; i < 25; i++) {
    sockets.push(await WsClient.connect(gateways[0]!.wsUrl, await stack.token(`later${i}`)));
  }
  await waitFor(
    'replicas raised to 3',
    async () => (await gatewayReplicas(ns, name)) === 3,
    60_000,
  );
  // gateway-b stops answering; its pod stays registered as Running.
  await gateways[1]!.proc.stop();
  await waitFor('gateway-b reported unknown', async () =>
    /gossip_operator_gateway_unknown_pods\{[^}]*\} 1/.test(await operator().metrics()),
  );
  // Leave 5 connections on gateway-a. Counted as zero, gateway-b would let the replicas fall
  // to ceil(5 / 10) = 1; counted on target (10) for a scale-down, they fall only to
  // ceil((5 + 10) / 10) = 2.
  for (const s of sockets.splice(5)) s.ws.close();
  await waitFor(
    'replicas lowered after the window',
    async () => (await gatewayReplicas(ns, name)) === 2,
    90_000,
  );
  await sleep(5000);
  assert.equal(
    await gatewayReplicas(ns, name),
    2,
    'the unknown gateway keeps the count at 2, not 1',
  );
  const c = (await getCluster(ns, name)) as { status?: { autoscaler?: { connections?: number } } };
  assert.equal(
    c.status?.autoscaler?.connections,
    5,
    'connections counts only the readable gateways',
  );
});
