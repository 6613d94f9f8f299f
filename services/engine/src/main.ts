/** The engine process: config from the environment, consume, stop cleanly on SIGTERM. */
import { createLogger, installShutdown, loadOrExit } from '@gossip/servicekit';
import { loadConfig } from './config.js';
import { Engine } from './engine.js';

const cfg = loadOrExit(() => loadConfig(process.env));
const logger = createLogger({ name: 'engine', level: cfg.logLevel });
const engine = new Engine(cfg, logger);

installShutdown([{ name: 'engine', stop: () => engine.stop() }], {
  logger,
  timeoutMs: cfg.shutdownTimeoutMs,
});

engine.start().catch((err: unknown) => {
  logger.fatal({ err }, 'engine failed to start');
  process.exit(1);
});
