/**
 * The operator's entry point: config from the environment, the metrics/health server,
 * leader election, and the controllers while leading. SIGTERM/SIGINT shut down in order:
 * stop the informers, drain in-flight reconciles, release the Lease, close the server.
 */
import { loadOrExit } from '@gossip/servicekit';
import { loadConfig } from './config.js';
import { kubeLeaseClient } from './leader/kube-lease-client.js';
import { LeaderElector } from './leader/lease.js';
import { loadKubeConfig, makeClients } from './kube/clients.js';
import { createLogger } from './logger.js';
import { OperatorMetrics } from './metrics.js';
import { GossipOperator } from './operator.js';
import { MetricsServer } from './server.js';

async function main(): Promise<void> {
  const config = loadOrExit(() => loadConfig(process.env));
  const logger = createLogger(config.logLevel);
  const metrics = new OperatorMetrics();
  const clients = makeClients(loadKubeConfig(config.kubeconfig));
  const stop = new AbortController();
  let operator: GossipOperator | undefined;
  let elector: LeaderElector | undefined;

  const server = new MetricsServer(metrics.registry, {
    notReady: () => {
      if (elector && !elector.isLeader()) return undefined; // a standby is ready to take over
      if (!operator) return 'controllers not started';
      return operator.hasSynced() ? undefined : 'informer caches not synced';
    },
  });
  const port = await server.start(config.metricsPort, config.metricsHost);

  const startLeading = async (): Promise<void> => {
    metrics.leader.set(1);
    operator = new GossipOperator({ config, clients, metrics, logger });
    operator.start();
    logger.info('controllers starting (workers wait for the caches to sync)');
  };
  const stopLeading = async (): Promise<void> => {
    metrics.leader.set(0);
    const running = operator;
    operator = undefined;
    await running?.stop();
    logger.info('controllers stopped');
  };

  let shuttingDown = false;
  const shutdown = (signal: string): void => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal }, 'shutting down');
    stop.abort();
    // A watchdog, in case a request hangs: leave within the pod's grace period.
    setTimeout(() => {
      logger.error('shutdown timed out');
      process.exit(1);
    }, 20_000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  logger.info(
    { port, namespace: config.watchNamespace ?? '(all)', identity: config.identity },
    'gossip-operator listening',
  );

  if (config.leaderElection) {
    elector = new LeaderElector({
      client: kubeLeaseClient(clients.kc, config.leaseNamespace, config.leaseName),
      identity: config.identity,
      leaseDurationMs: config.leaseDurationSeconds * 1000,
      renewDeadlineMs: config.renewDeadlineSeconds * 1000,
      retryPeriodMs: config.retryPeriodSeconds * 1000,
      logger: logger.child({ component: 'leader' }),
    });
    await elector.run(stop.signal, {
      onStartedLeading: startLeading,
      onStoppedLeading: stopLeading,
    });
  } else {
    await startLeading();
    await new Promise((resolve) => stop.signal.addEventListener('abort', resolve));
    await stopLeading();
  }
  await server.stop();
  logger.info('stopped');
}

main().catch((err: unknown) => {
  console.error('gossip-operator failed:', err);
  process.exit(1);
});
