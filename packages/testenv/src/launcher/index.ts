/** The service launcher and the private backing servers it can run against. */
export {
  Launcher,
  type BackingUrls,
  type GatewayService,
  type Isolation,
  type JwtKeySets,
  type LauncherOptions,
  type Service,
  type StartOptions,
} from './launcher.js';
export type { ApiVars, EngineVars, EnvOf, GatewayVars, ServiceKind, VarsOf } from './env.js';
export { dropIsolated, isolationFor, stackNamespace } from './isolation.js';
export {
  Backing,
  BACKING_NAMES,
  serverVersions,
  type BackingName,
  type BackingOptions,
  type BackingVersions,
} from './backing.js';
export { Watchdog } from './watchdog.js';
export { insertAcceptedContacts, ServiceStack, type StackServers } from './stack.js';
