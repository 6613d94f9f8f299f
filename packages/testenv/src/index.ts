/**
 * Test-side API of the Gossip test environment: connection strings, binaries and a
 * kubeconfig for the real servers that `npm run testenv -- up` started on loopback.
 *
 * Tests never start servers themselves; they call {@link testEnv} and get a clear
 * error (a failing test, never a skip) when the environment is not up.
 *
 * Also the one service launcher ({@link Launcher}: the api, engines and gateways as real
 * processes, their environment typed from each service's config schema), used by the
 * tests' stacks, `npm start`, the bench and the chaos suite, and the private backing
 * servers ({@link Backing}) the last three run it against.
 */
export { repoRoot, testEnv, uniqueName, type TestEnv } from './state.js';
export { startProcess, type ManagedProcess, type StartProcessOptions } from './process.js';
export { freePort } from './servers.js';
export { eventually } from './poll.js';
export { metricValue } from './metric-value.js';
export { configErrorFor } from './config-error.js';
export { storageDir as buildahStorageDir } from './buildah.js';
export {
  DOCKERFILE,
  PRODUCT_IMAGES,
  productContext,
  STAND_INS,
  standInImage,
  type ProductImage,
} from './images.js';
export {
  MALFORMED_CASES,
  assertServing,
  casesFor,
  checkCase,
  exchange,
  verdict,
  type Capabilities,
  type Exchange,
  type Listener,
  type MalformedCase,
} from './malformed.js';
export * from './launcher/index.js';
