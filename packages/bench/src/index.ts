/** @gossip/bench: the benchmark scenarios and the resilience (chaos) suite. */
export {
  chaosTable,
  FAULTS,
  runChaos,
  type ChaosOptions,
  type ChaosResult,
  type Fault,
} from './chaos.js';
export { scenarios } from './scenarios/index.js';
