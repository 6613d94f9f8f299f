/** @gossip/engine: the delivery engine, as a library (tests, benches) and a process (main.ts). */
export { Engine } from './engine.js';
export { loadConfig, EngineEnv, type EngineConfig } from './config.js';
