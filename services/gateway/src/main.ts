/** The gateway process: config from the environment, listen, drain on SIGTERM. */
import { createLogger, installShutdown, loadOrExit } from '@gossip/servicekit';
import { loadConfig } from './config.js';
import { Gateway } from './gateway.js';

const cfg = loadOrExit(() => loadConfig(process.env));
const logger = createLogger({ name: 'gateway', level: cfg.logLevel });
const gateway = new Gateway(cfg, logger);

installShutdown(
  [
    { name: 'drain', stop: () => gateway.drain() },
    { name: 'gateway', stop: () => gateway.stop() },
  ],
  { logger, timeoutMs: cfg.shutdownTimeoutMs },
);

gateway.start().catch((err: unknown) => {
  logger.fatal({ err }, 'gateway failed to start');
  process.exit(1);
});
