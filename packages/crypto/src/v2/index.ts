/** v2 end-to-end encryption (issue 16): prekeys, X3DH with an RSA-OAEP hybrid, Double Ratchet. */
export * from './prekeys.js';
export * from './x3dh.js';
export * from './ratchet.js';
export * from './body.js';
export * from './session.js';
export * from './vectors.js';
export * from './bench.js';
