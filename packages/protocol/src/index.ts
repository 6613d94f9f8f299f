/**
 * The Gossip wire protocol, defined once: REST bodies and WebSocket frames as TypeBox
 * (JSON Schema) schemas with their TypeScript types, the error catalog, limits, ids and
 * the shared storage names. Services and the SDK import this; nothing redefines a frame.
 */
export * from './version.js';
export * from './limits.js';
export * from './ids.js';
export * from './errors.js';
export * from './primitives.js';
export * from './rest.js';
export * from './attachments.js';
export * from './prekeys.js';
export * from './frames.js';
export * from './parse.js';
export * from './contacts.js';
export * from './storage.js';
export * from './metric-names.js';
export * from './auth.js';
export * from './sessions.js';
export * from './bus.js';
export * from './bus-parse.js';
export * from './close.js';
