/** @gossip/gateway: the WebSocket gateway, as a library (tests, benches) and a process (main.ts). */
export { Gateway } from './gateway.js';
export { loadConfig, GatewayEnv, type GatewayConfig } from './config.js';
export { TokenBucket } from './ratelimit.js';
export { credentialFrom, type Credential } from './auth.js';
export { presenceKey } from './presence.js';
