/** The one pino root logger (servicekit's: JSON to stdout, secrets redacted). */
import { createLogger as serviceLogger, type Logger } from '@gossip/servicekit';
import type { LogLevel } from './config.js';

export type { Logger };

export function createLogger(level: LogLevel): Logger {
  return serviceLogger({ name: 'gossip-operator', level });
}
