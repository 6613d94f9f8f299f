/**
 * Each service's environment, typed from that service's own config schema
 * (services/<name>/src/config.ts): a variable the service does not read is a compile error
 * wherever the launcher is asked to set it, so a misspelt name cannot silently fall back
 * to a default. Type-only imports: nothing of the services is loaded here.
 */
import type { ApiEnv } from '@gossip/api';
import type { EngineEnv } from '@gossip/engine';
import type { GatewayEnv } from '@gossip/gateway';

/** The variables of one schema, each optional and given as the string the process reads. */
export type EnvOf<S extends { properties: object }> = {
  [K in keyof S['properties'] & string]?: string;
};

/** `API_*`: services/api/src/config.ts. */
export type ApiVars = EnvOf<typeof ApiEnv>;
/** `ENGINE_*`: services/engine/src/config.ts. */
export type EngineVars = EnvOf<typeof EngineEnv>;
/** `GATEWAY_*`: services/gateway/src/config.ts. */
export type GatewayVars = EnvOf<typeof GatewayEnv>;

/** The three services the launcher runs. */
export type ServiceKind = 'api' | 'engine' | 'gateway';

/** The environment type of each kind. */
export interface VarsOf {
  api: ApiVars;
  engine: EngineVars;
  gateway: GatewayVars;
}
