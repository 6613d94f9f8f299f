/**
 * The operator's entry point: config from the environment, the ops listener, leader
 * election, and the controllers while leading. SIGTERM/SIGINT shut down through
 * servicekit's installShutdown, in order: stop leading (stop the informers, drain
 * in-flight reconciles, release the Lease), then close the ops listener; all within 20 s.
 */
import { installShutdown, loadOrExit } from '@gossip/servicekit';
import { loadConfig } from './config.js';
import { kubeLeaseClient } from './leader/kube-lease-client.js';
import { LeaderElector } from './leader/lease.js';
import { loadKubeConfig, makeClients } from './kube/clients.js';
import { createLogger } from './logger.js';
import { OperatorMetrics } from './metrics.js';
import { GossipOperator } from './operator.js';
import { operatorOps } from './ops.js';

async function main(): Promise<void> {
  const config = loadOrExit(() => loadConfig(process.env));
  const logger = createLogger(config.logLevel);
  const metrics = new OperatorMetrics();
  const clients = makeClients(loadKubeConfig(config.kubeconfig));
  const stop = new AbortController();
  let operator: GossipOperator | undefined;
  let elector: LeaderElector | undefined;

  const ops = operatorOps(
    metrics.registry,
    () => {
      if (elector && !elector.isLeader()) return 'ok'; // a standby is ready to take over
      if (!operator) return 'controllers not started';
      return operator.hasSynced() ? 'ok' : 'informer caches not synced';
    },
    { log: logger },
  );
  const port = await ops.start(config.metricsPort, config.metricsHost);

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

  const leading = (async () => {
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
  })();

  installShutdown(
    [
      {
        name: 'controllers',
        stop: async () => {
          stop.abort();
          await leading;
        },
      },
      { name: 'ops server', stop: () => ops.stop() },
    ],
    // Within the pod's termination grace period (30 s), leaving time to release the Lease.
    { logger, timeoutMs: 20_000 },
  );
  logger.info(
    { port, namespace: config.watchNamespace ?? '(all)', identity: config.identity },
    'gossip-operator listening',
  );
  await leading;
}

main().catch((err: unknown) => {
  console.error('gossip-operator failed:', err);
  process.exit(1);
});
