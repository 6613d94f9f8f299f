/**
 * Entry point: config from the environment, connections, listen, and a graceful stop on
 * SIGTERM/SIGINT (stop taking requests, then close Redis and MongoDB).
 */
import { connectUntil, createLogger, installShutdown, loadOrExit } from '@gossip/servicekit';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { buildApp } from './app.js';
import { loadConfig } from './config.js';

const config = loadOrExit(() => loadConfig(process.env));
const logger = createLogger({ name: 'api', level: config.logLevel });

// Both clients connect lazily and reconnect on their own; /readyz tells when they can't.
const mongo = new MongoClient(config.mongoUrl, { serverSelectionTimeoutMS: 5000 });
const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 2, lazyConnect: false });
redis.on('error', (err) => logger.warn({ err: { message: err.message } }, 'redis error'));

// The driver's implicit connect gives up for good when its first attempt fails (every later
// operation: "Topology is closed"), so a pod started before its MongoDB never became ready.
// Connect explicitly, and again until it works.
// (installShutdown exits the process, so a retry pending at shutdown holds nothing open.)
let stopping = false;
void connectUntil('mongodb', () => mongo.connect(), {
  log: logger,
  stopped: () => stopping,
}).catch(() => undefined);

const app = await buildApp(config, { db: mongo.db(config.mongoDb), redis, logger });
installShutdown(
  [
    { name: 'http', stop: () => app.close() },
    { name: 'redis', stop: () => redis.quit() },
    {
      name: 'mongodb',
      stop: () => {
        stopping = true;
        return mongo.close();
      },
    },
  ],
  { logger, timeoutMs: config.shutdownTimeoutMs },
);
// The ops listener first: probes and metrics answer as soon as the api takes traffic.
await app.ops.listen({ port: config.opsPort, host: config.opsHost });
await app.listen({ port: config.port, host: config.host });
