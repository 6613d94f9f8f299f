/**
 * @gossip/gateway as a library: the gateway class (main.ts runs it as a process) and its
 * configuration schema, which the launcher and the cdk8s constructs type a gateway's
 * environment against.
 */
export { Gateway } from './gateway.js';
export { loadConfig, GatewayEnv, type GatewayConfig } from './config.js';
