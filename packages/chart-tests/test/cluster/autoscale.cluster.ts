/**
 * Autoscaling on real pods (issue 14 §3 test 4): authenticated WebSocket connections from the
 * host push the gateway Deployment up to its maximum, closing them brings it back down after
 * the stabilization window, and the gateways removed by the scale-down drain on the kubelet's
 * SIGTERM (preStop, then the gateway's own drain within the grace period) while three users
 * chat through the cluster: every accepted message reaches its recipient exactly once.
 *
 * Which pods the scale-down removes is made certain, not left to chance: the first gateway
 * (where every load connection landed, as it was the only one) gets a high
 * `controller.kubernetes.io/pod-deletion-cost`, and two of the chat users connect straight to
 * the two newer gateways' pod IPs (their URL list goes on with the Service, where they
 * reconnect after the drain). So the drain is seen by clients every run.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { GatewayConnection, Messenger, apiTokenSource, type StatusEvent } from '@gossip/client';
import { nodeWebSocketFactory } from '@gossip/client/node';
import { eventually, uniqueName } from '@gossip/testenv';
import { kubectl } from '../../src/index.js';
import {
  apply,
  clusterManifest,
  clusterStatus,
  clusterUrls,
  clusterUsers,
  componentPods,
  diagnose,
  dropNamespace,
  env,
  installOperator,
  json,
  ready,
  reportFigures,
  requireNode,
  smallRequests,
  waitClusterReady,
  type ClusterUser,
  type Pod,
} from './support.js';

const ns = uniqueName('autoscale');
const cluster = 'scale';
const figures: string[] = [];
const gatewayDeployment = `${cluster}-gateway`;

/** Small settings so a handful of connections makes a difference and the test stays short. */
const TARGET_PER_POD = 4;
const MAX_REPLICAS = 3;
const WINDOW_SECONDS = 30;
const AUTOSCALE_INTERVAL_SECONDS = 5;
/** Two load users with six connections each (the gateway caps one user at ten). */
const LOAD_USERS = 2;
const CONNECTIONS_PER_LOAD_USER = 6;

let urls: { api: string; ws: string };
const load: GatewayConnection[] = [];
const messengers: Messenger[] = [];
const logTails: ChildProcess[] = [];

before(() => {
  requireNode();
});

after(async () => {
  for (const c of load) await c.close().catch(() => undefined);
  for (const m of messengers) await m.stop().catch(() => undefined);
  for (const p of logTails) p.kill();
  reportFigures('autoscale.cluster.ts', figures);
  dropNamespace(ns);
});

interface Deployment {
  spec: {
    replicas?: number;
    template: {
      spec: {
        terminationGracePeriodSeconds?: number;
        containers: { lifecycle?: { preStop?: unknown } }[];
      };
    };
  };
  status: { replicas?: number; readyReplicas?: number };
}

const deployment = (): Deployment =>
  json<Deployment>(['-n', ns, 'get', 'deploy', gatewayDeployment]);
const gateways = (): Pod[] =>
  componentPods(ns, cluster, 'gateway').filter((p) => !p.metadata.deletionTimestamp);

/** Fails with what the namespace looks like, so a timeout explains itself. */
const orDiagnose =
  (what: string) =>
  (err: unknown): never => {
    throw new Error(`${what}: ${String(err)}\n${diagnose(ns)}`);
  };

function events(reason: string): string[] {
  return json<{ items: { reason: string; message: string }[] }>([
    '-n',
    ns,
    'get',
    'events',
    '--field-selector',
    `involvedObject.kind=GossipCluster,involvedObject.name=${cluster}`,
  ])
    .items.filter((e) => e.reason === reason)
    .map((e) => e.message);
}

/** `kubectl logs -f` of a pod into a buffer, so its shutdown lines survive the pod. */
function tailLogs(pod: string): { text: () => string; ended: Promise<void> } {
  let out = '';
  const p = spawn(
    env.bin.kubectl,
    ['--kubeconfig', env.kubeconfig, '-n', ns, 'logs', '-f', pod, '-c', 'gateway'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  logTails.push(p);
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return { text: () => out, ended: new Promise((resolve) => p.on('close', () => resolve())) };
}

/** Log lines (pino JSON) whose `msg` is `msg`. */
function logLines(text: string, msg: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return {};
      }
    })
    .filter((l) => l.msg === msg);
}

describe('gateway autoscaling on real pods', () => {
  test('a GossipCluster with 1..3 gateways, 4 connections per pod and a 30 s window becomes Ready with one gateway', async () => {
    installOperator(ns, 'gossip', [
      '--set',
      'extraEnv[0].name=OPERATOR_AUTOSCALE_INTERVAL_SECONDS',
      '--set-string',
      `extraEnv[0].value=${AUTOSCALE_INTERVAL_SECONDS}`,
    ]);
    const lean = smallRequests();
    const t0 = Date.now();
    apply(
      clusterManifest(ns, cluster, {
        ...lean,
        gateway: {
          ...(lean.gateway as Record<string, unknown>),
          minReplicas: 1,
          maxReplicas: MAX_REPLICAS,
          targetConnectionsPerPod: TARGET_PER_POD,
          scaleDownStabilizationSeconds: WINDOW_SECONDS,
        },
      }),
    );
    const t = await waitClusterReady(ns, cluster, t0);
    figures.push(`kubectl apply to GossipCluster Ready True: ${t.clusterReady.toFixed(1)} s`);
    assert.equal(deployment().spec.replicas, 1, diagnose(ns));
    // A removed gateway gets a preStop delay before its SIGTERM (kube-proxy takes it out of the
    // Service meanwhile), and a grace period its whole drain fits in.
    const pod = deployment().spec.template.spec;
    assert.ok(pod.containers[0]?.lifecycle?.preStop, 'the gateway container has a preStop hook');
    assert.equal(pod.terminationGracePeriodSeconds, 60);
    urls = clusterUrls(ns, cluster);
  });

  let chat: ClusterUser[] = [];
  let firstGateway = '';

  test('authenticated connections push the gateway Deployment up to maxReplicas and the new gateway pods become Ready', async () => {
    const users = await clusterUsers(
      urls,
      Array.from({ length: LOAD_USERS }, (_, i) => `load${i}`),
    );
    chat = await clusterUsers(urls, ['ann', 'ben', 'cat']);
    const [only] = gateways();
    assert.ok(only, diagnose(ns));
    firstGateway = only.metadata.name;

    const t0 = Date.now();
    for (const u of users) {
      for (let i = 0; i < CONNECTIONS_PER_LOAD_USER; i++) {
        const c = new GatewayConnection({
          url: urls.ws,
          token: apiTokenSource(u.gossip.api),
          webSocket: nodeWebSocketFactory(),
          allowInsecure: true,
          backoffInitialMs: 200,
          backoffMaxMs: 2000,
        });
        load.push(c);
        c.start();
      }
    }
    await eventually(
      () => load.every((c) => c.state === 'open'),
      `all ${load.length} load connections to say hello`,
      60_000,
      200,
    ).catch(orDiagnose('load connections'));
    const opened = (Date.now() - t0) / 1000;
    await eventually(
      () => {
        const d = deployment();
        return d.spec.replicas === MAX_REPLICAS && d.status.readyReplicas === MAX_REPLICAS;
      },
      `the gateway Deployment to run ${MAX_REPLICAS} Ready replicas`,
      240_000,
      1000,
    ).catch(orDiagnose('scale-up'));
    figures.push(
      `scale-up: ${load.length} authenticated connections open in ${opened.toFixed(1)} s; ` +
        `${MAX_REPLICAS} Ready gateways ${((Date.now() - t0) / 1000).toFixed(1)} s after the first ` +
        `connection was opened (autoscaler interval ${AUTOSCALE_INTERVAL_SECONDS} s)`,
    );
    const pods = gateways();
    assert.equal(pods.length, MAX_REPLICAS, diagnose(ns));
    assert.ok(pods.every(ready), diagnose(ns));
    const status = clusterStatus(ns, cluster) as {
      autoscaler?: { desiredReplicas?: number; connections?: number; lastScaleReason?: string };
    };
    assert.equal(status.autoscaler?.desiredReplicas, MAX_REPLICAS);
    assert.ok(
      (status.autoscaler?.connections ?? 0) >= load.length,
      `status.autoscaler.connections ${status.autoscaler?.connections} < ${load.length}`,
    );
    assert.ok(events('GatewaysScaledUp').length > 0, 'a GatewaysScaledUp event');
  });

  test('closing them brings the Deployment down after the stabilization window; the removed gateways drain on SIGTERM and every accepted message reaches its recipient exactly once', async () => {
    const pods = gateways();
    const newer = pods.filter((p) => p.metadata.name !== firstGateway);
    assert.equal(newer.length, MAX_REPLICAS - 1, diagnose(ns));
    // The first gateway holds every load connection: the scale-down must remove the others.
    kubectl([
      '-n',
      ns,
      'annotate',
      'pod',
      firstGateway,
      'controller.kubernetes.io/pod-deletion-cost=10000',
    ]);
    const logs = new Map(newer.map((p) => [p.metadata.name, tailLogs(p.metadata.name)]));

    // ann and ben straight onto the gateways that will go; cat through the Service.
    const direct = (p: Pod): string => {
      const u = new URL(urls.ws);
      u.hostname = p.status.podIP!;
      return u.toString();
    };
    const urlLists = [[direct(newer[0]!), urls.ws], [direct(newer[1]!), urls.ws], [urls.ws]];
    const accepted = new Map<string, { from: string; to: string }>();
    chat.forEach((u, i) => {
      const m = new Messenger({
        gossip: u.gossip,
        url: urlLists[i]!,
        webSocket: nodeWebSocketFactory(),
        connection: { backoffInitialMs: 200, backoffMaxMs: 2000, allowInsecure: true },
        onMessage: (msg) => {
          u.shown.push(msg);
        },
      });
      m.on('status', (e: StatusEvent) => {
        if ((e.state === 'accepted' || e.state === 'delivered') && !accepted.has(e.id)) {
          accepted.set(e.id, { from: u.username, to: e.to });
        }
      });
      messengers.push(m);
    });
    for (const m of messengers) await m.start();
    await Promise.all(messengers.map((m) => m.waitUntilOpen(30_000)));

    // Everyone sends to the next one, all the time, until the scale-down is over.
    let sending = true;
    let sent = 0;
    const sendLoop = (async () => {
      while (sending) {
        for (let i = 0; i < chat.length; i++) {
          const to = chat[(i + 1) % chat.length]!;
          await messengers[i]!.send(to.username, `msg ${sent} from ${chat[i]!.username}`);
          sent++;
        }
        await new Promise((r) => setTimeout(r, 300));
      }
    })();

    try {
      const t0 = Date.now();
      for (const c of load) await c.close();
      await eventually(
        () => deployment().spec.replicas === 1,
        'the gateway Deployment to come back down to 1 replica',
        (WINDOW_SECONDS + 180) * 1000,
        1000,
      ).catch(orDiagnose('scale-down'));
      const down = (Date.now() - t0) / 1000;
      await eventually(
        () => componentPods(ns, cluster, 'gateway').length === 1,
        'the removed gateway pods to be gone',
        120_000,
        1000,
      ).catch(orDiagnose('removed gateways'));
      const gone = (Date.now() - t0) / 1000;
      figures.push(
        `scale-down: Deployment at 1 replica ${down.toFixed(1)} s after the load connections ` +
          `closed (the ${WINDOW_SECONDS} s window counts from the last high reading, up to ` +
          `${AUTOSCALE_INTERVAL_SECONDS} s before the close); ` +
          `removed pods gone after ${gone.toFixed(1)} s`,
      );
      assert.equal(gateways()[0]?.metadata.name, firstGateway, diagnose(ns));
      // Keep chatting a little on the one gateway left.
      await new Promise((r) => setTimeout(r, 3000));
    } finally {
      sending = false;
      await sendLoop;
    }

    // Every send is accepted in the end (those caught by the drain are resent).
    await eventually(
      () => messengers.every((m) => m.pendingSends === 0),
      'every send to be accepted',
      60_000,
      500,
    ).catch(orDiagnose('sends'));
    assert.equal(accepted.size, sent, 'every message sent was accepted');
    await eventually(
      () =>
        chat.every(
          (u) => [...accepted.values()].filter((a) => a.to === u.username).length <= u.shown.length,
        ),
      'every recipient to show what was sent to it',
      60_000,
      500,
    ).catch(orDiagnose('deliveries'));
    await new Promise((r) => setTimeout(r, 2000)); // duplicates, if any, would arrive now
    let lost = 0;
    for (const u of chat) {
      const counts = new Map<string, number>();
      for (const m of u.shown) counts.set(m.id, (counts.get(m.id) ?? 0) + 1);
      for (const [id, a] of accepted) {
        if (a.to !== u.username) continue;
        const n = counts.get(id) ?? 0;
        if (n === 0) lost++;
        assert.ok(n <= 1, `${u.username} was shown ${id} ${n} times`);
      }
      for (const id of counts.keys()) {
        assert.equal(
          accepted.get(id)?.to,
          u.username,
          `${u.username} shown ${id}, never accepted for it`,
        );
      }
    }
    const drains = messengers.map((m) => m.stats.drains);
    figures.push(
      `chat during scale-down: ${sent} messages sent, ${accepted.size} accepted, ${lost} lost; ` +
        `drain frames seen by ann/ben/cat: ${drains.join('/')}`,
    );
    assert.equal(lost, 0, 'accepted messages lost');
    // ann and ben were on the removed gateways: each was told to drain and reconnected.
    assert.ok(drains[0]! >= 1 && drains[1]! >= 1, `drain frames ${drains.join('/')}`);
    assert.ok(messengers.every((m) => m.connection.state === 'open'));

    // The removed gateways were stopped by the kubelet's SIGTERM and drained before exiting.
    for (const [pod, tail] of logs) {
      await Promise.race([tail.ended, new Promise((r) => setTimeout(r, 30_000))]);
      const text = tail.text();
      const at = (msg: string): number | undefined => {
        const t = logLines(text, msg)[0]?.time; // pino's isoTime
        return typeof t === 'string' ? Date.parse(t) : undefined;
      };
      const [term, done] = [at('shutting down'), at('shutdown complete')];
      if (term !== undefined && done !== undefined) {
        figures.push(
          `${pod}: SIGTERM to shutdown complete (drain and stop) ${(done - term) / 1000} s`,
        );
      }
      assert.ok(
        logLines(text, 'shutting down').some((l) => l.reason === 'SIGTERM'),
        `${pod}: no SIGTERM shutdown in its log:\n${text.slice(-2000)}`,
      );
      assert.ok(
        logLines(text, 'draining').length > 0,
        `${pod} did not drain:\n${text.slice(-2000)}`,
      );
      assert.ok(
        logLines(text, 'shutdown complete').some((l) => l.ok === true),
        `${pod}: shutdown did not complete cleanly within its deadline:\n${text.slice(-2000)}`,
      );
    }
    assert.ok(events('GatewaysScaledDown').length > 0, 'a GatewaysScaledDown event');
  });
});
