/** The one pino root logger: JSON to stdout, secrets redacted. */
import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

export function createLogger(level: LogLevel): Logger {
  return pino({
    level,
    base: { service: 'gossip-operator' },
    redact: {
      paths: ['*.data', '*.stringData', '*.token', '*.password', 'authorization'],
      censor: '[redacted]',
    },
  });
}
