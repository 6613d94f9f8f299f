/**
 * Test-side API of the Gossip test environment: connection strings, binaries and a
 * kubeconfig for the real servers that `npm run testenv -- up` started on loopback.
 *
 * Tests never start servers themselves; they call {@link testEnv} and get a clear
 * error (a failing test, never a skip) when the environment is not up.
 */
export { testEnv, uniqueName, type TestEnv } from './state.js';
export { startProcess, type ManagedProcess, type StartProcessOptions } from './process.js';
export { freePort } from './servers.js';
export { eventually } from './poll.js';
export { PRODUCT_IMAGES, STAND_INS, standInImage, type ProductImage } from './images.js';
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
