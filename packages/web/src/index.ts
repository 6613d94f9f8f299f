/**
 * @gossip/web (Node side): the server that serves the built web client and forwards the
 * api and gateway, and the build step. The page itself lives in `src/app` (browser code).
 */
export { startWebServer, type WebServer, type WebServerOptions } from './server.js';
export { buildNeeded, ensureWebBuild, webDist, webRoot } from './build.js';
