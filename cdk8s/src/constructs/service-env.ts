/**
 * The environment variables each app component reads, typed from that service's own config
 * schema (`ApiEnv`, `GatewayEnv`, `EngineEnv` in services/<component>/src/config.ts), so a
 * construct that sets a misspelt or removed variable does not compile.
 *
 * Type-only imports: `import type` is erased (verbatimModuleSyntax), so none of a service's
 * runtime (fastify, the AMQP and Redis clients, …) enters cdk8s or the operator's bundle, and
 * cdk8s needs the services only when it is type-checked.
 */
import type { ApiEnv } from '@gossip/api';
import type { EngineEnv } from '@gossip/engine';
import type { GatewayEnv } from '@gossip/gateway';
import type { AppComponent } from './naming.js';

/** Each component's env schema. */
interface EnvSchemas {
  api: typeof ApiEnv;
  gateway: typeof GatewayEnv;
  engine: typeof EngineEnv;
}

/** The name of a variable `component` reads (a property of its config schema). */
export type EnvName<C extends AppComponent> = keyof EnvSchemas[C]['properties'] & string;

/** Some of `component`'s variables, each with a value of type `V`. */
export type ServiceEnv<C extends AppComponent, V> = { readonly [K in EnvName<C>]?: V };
