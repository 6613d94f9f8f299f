import type { Scenario } from '../scenario.js';
import { attachments } from './attachments.js';
import { ceilings } from './ceilings.js';
import { connections } from './connections.js';
import { crypto } from './crypto.js';
import { cryptoV2 } from './crypto-v2.js';
import { latency } from './latency.js';
import { shown } from './shown.js';
import { throughput } from './throughput.js';

/** Every scenario, in the order `npm run bench` runs them. */
export const scenarios: Scenario[] = [
  connections,
  throughput,
  latency,
  shown,
  crypto,
  cryptoV2,
  ceilings,
  attachments,
];
