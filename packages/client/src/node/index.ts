/** @gossip/client/node: Node-only parts of the SDK (file storage under a folder). */
export { FileKeyStore } from './file-keystore.js';
export { FileSessionStore } from './session-store.js';
export { ensurePrivateDir, writePrivateJson, readJson } from './files.js';
export { nodeWebSocketFactory, FileMessengerStore, CLIENT_MAX_PAYLOAD_BYTES } from './ws.js';
